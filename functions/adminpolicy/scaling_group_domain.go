package adminpolicy

// ScalingGroupDomain associates a domain with a scaling group: every user of the domain may
// use the group.
type ScalingGroupDomain struct {
	ScalingGroup string `json:"scaling_group" doc:"Scaling group name." example:"default"`
	Domain       string `json:"domain" doc:"Domain name." example:"default"`
}

// ScalingGroupDomainList is a page of a scaling group's domains.
type ScalingGroupDomainList struct {
	Items      []ScalingGroupDomain `json:"items" doc:"The associations of this page, by domain name."`
	TotalCount int64                `json:"total_count" doc:"Number of associated domains in all pages."`
}
