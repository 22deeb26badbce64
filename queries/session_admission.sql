-- name: SessionAdmissionAgentSlots :many
-- SessionAdmissionAgentSlots lists the slot capacities of the ALIVE, schedulable agents of a
-- scaling group with their architecture, ordered by agent, for the create-time check that
-- some agent could ever host a request.
SELECT a.id AS agent_id, a.architecture, s.slot, s.slot_type, s.capacity::text AS capacity
FROM agents a
JOIN agent_slots s ON s.agent_id = a.id
WHERE a.status = 'ALIVE' AND a.schedulable AND a.scaling_group = @scaling_group
ORDER BY a.id, s.slot;

-- name: SessionAdmissionPendingCount :one
-- SessionAdmissionPendingCount counts the PENDING sessions of an access key, up to at_most
-- (the cap: counting further would not change the answer).
SELECT count(*)::bigint FROM (
    SELECT 1 FROM sessions
    WHERE access_key = @access_key AND status = 'PENDING'
    LIMIT @at_most::bigint
) AS pending;

-- name: SessionAdmissionLock :exec
-- SessionAdmissionLock serializes the creates of one access key until the transaction ends,
-- so that its pending-session cap holds under concurrent creates.
SELECT pg_advisory_xact_lock(hashtext('session-admission:' || @access_key::text));

-- name: SessionAdmissionSomeAgentFits :one
-- SessionAdmissionSomeAgentFits reports whether some ALIVE, schedulable agent of the scaling
-- group (of the architecture, when one is given) has a finite capacity of at least every
-- wanted amount (a JSON object slot → decimal string): the create-time check's common case,
-- answered without reading every agent's slots.
SELECT EXISTS (
    SELECT 1 FROM agents a
    WHERE a.status = 'ALIVE' AND a.schedulable AND a.scaling_group = @scaling_group
      AND (@architecture::text = '' OR a.architecture = @architecture::text)
      AND NOT EXISTS (
          SELECT 1 FROM jsonb_each_text(@wanted::jsonb) AS w(slot, amount)
          WHERE NOT EXISTS (
              SELECT 1 FROM agent_slots s
              WHERE s.agent_id = a.id AND s.slot = w.slot
                AND s.capacity < 'Infinity'::numeric AND s.capacity <> 'NaN'::numeric
                AND s.capacity >= w.amount::numeric))
)::boolean AS fits;
