// Package resource is the Backend.AI-compatible /resource API for resource presets: the list of
// presets, and check-presets, which tells a user how much they may still allocate (keypair,
// project and domain limits), how much room the scaling groups they may use have left, and
// which presets would fit right now.
//
// Slot maps are JSON objects slot name → decimal string, limited to the known resource slots
// (GET /config/resource-slots), written without exponent; an unlimited amount is "Infinity".
package resource

import (
	"github.com/hangar-run/hangar/functions"
)

// tag groups these operations in the OpenAPI document.
const tag = "resource"

// Register adds the area's operations to s.
func Register(s *functions.Server) {
	registerListPresets(s)
	registerCheckPresets(s)
	registerRecalculateUsage(s)
	registerUsageMonth(s)
	registerUsagePeriod(s)
	registerStatsMonth(s)
}
