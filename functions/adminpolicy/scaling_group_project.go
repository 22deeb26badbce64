package adminpolicy

import "github.com/google/uuid"

// ScalingGroupProject associates a project with a scaling group: every member of the project
// may use the group for the project's sessions.
type ScalingGroupProject struct {
	ScalingGroup string    `json:"scaling_group" doc:"Scaling group name." example:"default"`
	ProjectID    uuid.UUID `json:"project_id" doc:"Project id." example:"2de2b969-1d04-48a6-af16-0bc8adb3c831"`
	ProjectName  string    `json:"project_name" doc:"Project name." example:"default"`
	DomainName   string    `json:"domain_name" doc:"Domain of the project." example:"default"`
}

// ScalingGroupProjectList is a page of a scaling group's projects.
type ScalingGroupProjectList struct {
	Items      []ScalingGroupProject `json:"items" doc:"The associations of this page, by domain and project name."`
	TotalCount int64                 `json:"total_count" doc:"Number of associated projects in all pages."`
}
