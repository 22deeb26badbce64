package registry_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/registry"
	"github.com/hangar-run/hangar/internal/registry/registrytest"
)

func TestValidateLabels(t *testing.T) {
	t.Parallel()
	ok := registrytest.KernelLabels
	for _, tc := range []struct {
		name   string
		labels map[string]string
		err    string
	}{
		{name: "valid", labels: ok(nil)},
		{name: "no kernelspec", labels: map[string]string{}, err: "no ai.backend.kernelspec label"},
		{name: "kernelspec 2", labels: ok(map[string]string{"ai.backend.kernelspec": "2"}), err: `ai.backend.kernelspec is "2", want 1`},
		{name: "no runtime path", labels: func() map[string]string { l := ok(nil); delete(l, "ai.backend.runtime-path"); return l }(), err: "no ai.backend.runtime-path label"},
		{name: "bad role", labels: ok(map[string]string{"ai.backend.role": "GAME"}), err: "want COMPUTE, INFERENCE or SYSTEM"},
		{name: "inference without model", labels: ok(map[string]string{"ai.backend.role": "INFERENCE"}), err: "needs the ai.backend.endpoint-ports label"},
		{name: "inference", labels: ok(map[string]string{
			"ai.backend.role": "INFERENCE", "ai.backend.endpoint-ports": "api", "ai.backend.model-path": "/models",
			"ai.backend.model-format": "onnx", "ai.backend.service-ports": "api:preopen:8000",
		})},
		{name: "inference endpoint not preopen", labels: ok(map[string]string{
			"ai.backend.role": "INFERENCE", "ai.backend.endpoint-ports": "api", "ai.backend.model-path": "/models",
			"ai.backend.model-format": "onnx", "ai.backend.service-ports": "api:http:8000",
		}), err: "not a preopen service port"},
		{name: "corecount", labels: ok(map[string]string{"ai.backend.envs.corecount": "OMP_NUM_THREADS"}), err: "want an integer"},
		{name: "port list", labels: ok(map[string]string{"ai.backend.service-ports": "a:tcp:[8000,8001],b:http:8002,c:pty:8003"})},
		{name: "port twice", labels: ok(map[string]string{"ai.backend.service-ports": "a:tcp:8000,b:http:8000"}), err: "port 8000 is used twice"},
		{name: "low port", labels: ok(map[string]string{"ai.backend.service-ports": "a:tcp:80"}), err: "outside 1025..65534"},
		{name: "bad protocol", labels: ok(map[string]string{"ai.backend.service-ports": "a:udp:8000"}), err: `unknown protocol "udp"`},
		{name: "bad entry", labels: ok(map[string]string{"ai.backend.service-ports": "jupyter"}), err: "want name:protocol:port"},
	} {
		err := registry.ValidateLabels(tc.labels)
		if tc.err == "" {
			require.NoError(t, err, tc.name)
		} else {
			require.ErrorContains(t, err, tc.err, tc.name)
		}
	}
}

func TestParseServicePorts(t *testing.T) {
	t.Parallel()
	ports, err := registry.ParseServicePorts("jupyter:http:8081, ports:tcp:[8090,8091],term:pty:7682")
	require.NoError(t, err)
	require.Equal(t, []registry.ServicePort{
		{Name: "jupyter", Protocol: "http", Ports: []int{8081}},
		{Name: "ports", Protocol: "tcp", Ports: []int{8090, 8091}},
	}, ports)
}

func TestNormalizeArch(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64", "i686": "x86", "ppc64le": "ppc64le", "X64": "x86_64"} {
		require.Equal(t, want, registry.NormalizeArch(in), in)
	}
}

func TestChooseArchitecture(t *testing.T) {
	t.Parallel()
	a, err := registry.ChooseArchitecture("n", []string{"aarch64", "x86_64"}, "amd64")
	require.NoError(t, err)
	require.Equal(t, "x86_64", a)
	a, err = registry.ChooseArchitecture("n", []string{"aarch64"}, "")
	require.NoError(t, err)
	require.Equal(t, "aarch64", a)
	_, err = registry.ChooseArchitecture("n", []string{"aarch64", "x86_64"}, "")
	require.ErrorContains(t, err, "name the architecture")
	_, err = registry.ChooseArchitecture("n", []string{"aarch64"}, "x86_64")
	require.ErrorContains(t, err, "has no x86_64 variant")
	_, err = registry.ChooseArchitecture("n", nil, "")
	require.ErrorContains(t, err, "no image n")
}

func TestResources(t *testing.T) {
	t.Parallel()
	require.Equal(t, map[string]registry.SlotLimit{"cpu": {Min: "2"}, "mem": {Min: "1g"}, "cuda.shares": {Min: "0.5"}},
		registry.Resources(map[string]string{"ai.backend.resource.min.cpu": "2", "ai.backend.resource.min.cuda.shares": "0.5", "other": "x"}))
}
