package registry

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Image labels the scanner reads (all under the ai.backend. prefix).
const (
	LabelKernelspec   = "ai.backend.kernelspec"
	LabelFeatures     = "ai.backend.features"
	LabelBaseDistro   = "ai.backend.base-distro"
	LabelRuntimeType  = "ai.backend.runtime-type"
	LabelRuntimePath  = "ai.backend.runtime-path"
	LabelRole         = "ai.backend.role"
	LabelCoreCount    = "ai.backend.envs.corecount"
	LabelAccelerators = "ai.backend.accelerators"
	LabelServicePorts = "ai.backend.service-ports"
	LabelEndpointPort = "ai.backend.endpoint-ports"
	LabelModelPath    = "ai.backend.model-path"
	LabelModelFormat  = "ai.backend.model-format"
	// LabelResourceMinPrefix followed by a slot name (cpu, mem, cuda.device, ...) gives the
	// image's minimum of that slot.
	LabelResourceMinPrefix = "ai.backend.resource.min."
)

// ValidateLabels checks the labels a Backend.AI image must carry and returns why the image
// cannot be used, or nil: ai.backend.kernelspec must be 1; features, base-distro,
// runtime-type and runtime-path must be present; role, when given, is COMPUTE, INFERENCE or
// SYSTEM (INFERENCE also needs endpoint-ports naming preopen service ports, model-path and
// model-format); service-ports, when given, must parse (see ParseServicePorts).
func ValidateLabels(labels map[string]string) error {
	ks, ok := labels[LabelKernelspec]
	if !ok {
		return fmt.Errorf("no %s label", LabelKernelspec)
	}
	if n, err := strconv.Atoi(strings.TrimSpace(ks)); err != nil || n != 1 {
		return fmt.Errorf("%s is %q, want 1", LabelKernelspec, ks)
	}
	for _, k := range []string{LabelFeatures, LabelBaseDistro, LabelRuntimeType, LabelRuntimePath} {
		if _, ok := labels[k]; !ok {
			return fmt.Errorf("no %s label", k)
		}
	}
	if v, ok := labels[LabelCoreCount]; ok && strings.TrimSpace(v) != "" {
		if _, err := strconv.Atoi(strings.TrimSpace(v)); err != nil {
			return fmt.Errorf("%s is %q, want an integer", LabelCoreCount, v)
		}
	}
	ports, err := ParseServicePorts(labels[LabelServicePorts])
	if err != nil {
		return fmt.Errorf("%s: %w", LabelServicePorts, err)
	}
	switch role := strings.TrimSpace(labels[LabelRole]); role {
	case "", "COMPUTE", "SYSTEM":
	case "INFERENCE":
		for _, k := range []string{LabelEndpointPort, LabelModelPath, LabelModelFormat} {
			if strings.TrimSpace(labels[k]) == "" {
				return fmt.Errorf("role INFERENCE needs the %s label", k)
			}
		}
		preopen := map[string]bool{}
		for _, p := range ports {
			if p.Protocol == "preopen" {
				preopen[p.Name] = true
			}
		}
		for name := range strings.SplitSeq(labels[LabelEndpointPort], ",") {
			if name = strings.TrimSpace(name); name != "" && !preopen[name] {
				return fmt.Errorf("%s names %q, which is not a preopen service port", LabelEndpointPort, name)
			}
		}
	default:
		return fmt.Errorf("%s is %q, want COMPUTE, INFERENCE or SYSTEM", LabelRole, role)
	}
	return nil
}

// ServicePort is one entry of the ai.backend.service-ports label.
type ServicePort struct {
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
	Ports    []int  `json:"container_ports"`
}

// reservedPorts are container ports the kernel runner uses itself.
var reservedPorts = map[int]bool{2000: true, 2001: true, 2002: true, 2003: true, 2200: true, 7681: true} //nolint:gochecknoglobals // read-only

// ParseServicePorts parses the ai.backend.service-ports label: comma-separated entries
// "name:protocol:port" or "name:protocol:[port1,port2]", protocol tcp, http, preopen or pty
// (pty entries are accepted and left out). Ports must lie in 1025..65534, be unique and
// avoid the ports the kernel runner uses (2000-2003, 2200, 7681). An empty label is no ports.
func ParseServicePorts(label string) ([]ServicePort, error) {
	var out []ServicePort
	seen := map[int]bool{}
	for _, entry := range splitTopLevel(label) {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		parts := strings.SplitN(entry, ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("entry %q: want name:protocol:port", entry)
		}
		name, proto, portSpec := strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1]), strings.TrimSpace(parts[2])
		if name == "" {
			return nil, fmt.Errorf("entry %q: empty name", entry)
		}
		switch proto {
		case "tcp", "http", "preopen":
		case "pty":
			continue
		default:
			return nil, fmt.Errorf("entry %q: unknown protocol %q", entry, proto)
		}
		var ports []int
		if strings.HasPrefix(portSpec, "[") && strings.HasSuffix(portSpec, "]") {
			if err := json.Unmarshal([]byte(portSpec), &ports); err != nil || len(ports) == 0 {
				return nil, fmt.Errorf("entry %q: bad port list", entry)
			}
		} else {
			p, err := strconv.Atoi(portSpec)
			if err != nil {
				return nil, fmt.Errorf("entry %q: bad port %q", entry, portSpec)
			}
			ports = []int{p}
		}
		for _, p := range ports {
			switch {
			case p < 1025 || p > 65534:
				return nil, fmt.Errorf("entry %q: port %d is outside 1025..65534", entry, p)
			case reservedPorts[p]:
				return nil, fmt.Errorf("entry %q: port %d is reserved", entry, p)
			case seen[p]:
				return nil, fmt.Errorf("entry %q: port %d is used twice", entry, p)
			}
			seen[p] = true
		}
		out = append(out, ServicePort{Name: name, Protocol: proto, Ports: ports})
	}
	return out, nil
}

// splitTopLevel splits s on commas outside square brackets.
func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// NormalizeArch maps architecture names to the ones images are stored under: amd64 and x64
// are x86_64, arm64 is aarch64, x32 and i686 are x86; others are kept (lower-cased).
func NormalizeArch(arch string) string {
	a := strings.ToLower(strings.TrimSpace(arch))
	switch a {
	case "amd64", "x64", "x86-64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "x32", "i686", "386", "i386":
		return "x86"
	}
	return a
}

// Resources returns an image's resource limits: {"cpu": {"min": "1", "max": null}, "mem":
// {"min": "1g", "max": null}}, with each ai.backend.resource.min.<slot> label setting the
// minimum of <slot>.
func Resources(labels map[string]string) map[string]SlotLimit {
	out := map[string]SlotLimit{"cpu": {Min: "1"}, "mem": {Min: "1g"}}
	for k, v := range labels {
		if slot, ok := strings.CutPrefix(k, LabelResourceMinPrefix); ok && slot != "" {
			out[slot] = SlotLimit{Min: strings.TrimSpace(v)}
		}
	}
	return out
}

// SlotLimit is the minimum and maximum of one slot an image accepts; Max nil is unlimited.
type SlotLimit struct {
	Min string  `json:"min"`
	Max *string `json:"max"`
}

// ChooseArchitecture picks one of the architectures an image name is stored under (as
// listed in available): want, normalized, when given; otherwise the only one. It fails when
// want is not available, and when want is empty and there are none or several.
func ChooseArchitecture(name string, available []string, want string) (string, error) {
	if want != "" {
		want = NormalizeArch(want)
		for _, a := range available {
			if a == want {
				return a, nil
			}
		}
		if len(available) == 0 {
			return "", fmt.Errorf("no image %s", name)
		}
		return "", fmt.Errorf("image %s has no %s variant (it has %s)", name, want, strings.Join(available, ", "))
	}
	switch len(available) {
	case 0:
		return "", fmt.Errorf("no image %s", name)
	case 1:
		return available[0], nil
	}
	return "", fmt.Errorf("image %s exists for %s; name the architecture", name, strings.Join(available, ", "))
}
