-- name: SgroupsForDomainsList :many
-- SgroupsForDomainsList pages through the domains associated with a scaling group.
SELECT * FROM sgroups_for_domains WHERE scaling_group = @scaling_group
ORDER BY domain LIMIT @row_limit OFFSET @row_offset;

-- name: SgroupsForDomainsCount :one
-- SgroupsForDomainsCount counts the domains associated with a scaling group.
SELECT count(*) FROM sgroups_for_domains WHERE scaling_group = @scaling_group;

-- name: SgroupsForDomainsDomainExists :one
-- SgroupsForDomainsDomainExists reports whether a domain can be associated (it exists).
SELECT EXISTS (SELECT 1 FROM domains WHERE name = @domain);

-- name: SgroupsForDomainsInsert :exec
-- SgroupsForDomainsInsert associates a domain with a scaling group; an existing association
-- is left as it is.
INSERT INTO sgroups_for_domains (scaling_group, domain) VALUES (@scaling_group, @domain)
ON CONFLICT (scaling_group, domain) DO NOTHING;

-- name: SgroupsForDomainsDelete :execrows
-- SgroupsForDomainsDelete removes the association of a domain with a scaling group.
DELETE FROM sgroups_for_domains WHERE scaling_group = @scaling_group AND domain = @domain;
