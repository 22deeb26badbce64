package adminpolicy

// ScalingGroupKeypair associates a keypair with a scaling group: requests signed with the key
// may use the group.
type ScalingGroupKeypair struct {
	ScalingGroup string `json:"scaling_group" doc:"Scaling group name." example:"default"`
	AccessKey    string `json:"access_key" doc:"Access key of the keypair." example:"AKIAIOSFODNN7EXAMPLE"`
	UserID       string `json:"user_id" doc:"Email of the keypair's owner." example:"user@lablup.com"`
}

// ScalingGroupKeypairList is a page of a scaling group's keypairs.
type ScalingGroupKeypairList struct {
	Items      []ScalingGroupKeypair `json:"items" doc:"The associations of this page, by access key."`
	TotalCount int64                 `json:"total_count" doc:"Number of associated keypairs in all pages."`
}
