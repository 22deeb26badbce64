package resource

// nanSlots is the map Backend.AI answers for hidden figures: every known slot "NaN".
func nanSlots(known map[string]string) map[string]string {
	out := make(map[string]string, len(known))
	for k := range known {
		out[k] = "NaN"
	}
	return out
}
