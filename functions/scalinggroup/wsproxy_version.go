package scalinggroup

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

// wsproxyTimeout bounds the status query to a scaling group's wsproxy.
const wsproxyTimeout = 5 * time.Second

type wsproxyVersionInput struct {
	ScalingGroup string              `path:"scaling_group" doc:"Scaling group name." example:"default"`
	Body         sgroupProjectParams `required:"false"`
}

// WSProxyVersionOutput is the answer of GET /scaling-groups/{scaling_group}/wsproxy-version.
type WSProxyVersionOutput struct {
	Body struct {
		WSProxyVersion string `json:"wsproxy_version" doc:"Protocol version of the scaling group's app proxy: v1 when none is configured, otherwise the api_version its /status reports." example:"v2"`
	}
}

// queryWSProxyVersion asks the wsproxy at addr for its API version (GET <addr>/status).
func queryWSProxyVersion(ctx context.Context, addr string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, wsproxyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(addr, "/")+"/status", nil)
	if err != nil {
		return "", fmt.Errorf("wsproxy status request: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("query wsproxy: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("query wsproxy: status %d", res.StatusCode)
	}
	var st struct {
		APIVersion any `json:"api_version"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&st); err != nil {
		return "", fmt.Errorf("decode wsproxy status: %w", err)
	}
	switch v := st.APIVersion.(type) {
	case string:
		return v, nil
	case nil:
		return "", fmt.Errorf("wsproxy status has no api_version")
	default:
		return fmt.Sprint(v), nil
	}
}

func registerGetWSProxyVersion(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-wsproxy-version", Method: http.MethodGet, Path: "/scaling-groups/{scaling_group}/wsproxy-version", Tag: tag,
		Summary: "wsproxy version of a scaling group",
		Description: "The protocol version of the app proxy of a scaling group the caller may use (optionally " +
			"with a project: group, group_id or group_name): v1 when the scaling group has no wsproxy_addr, " +
			"otherwise the api_version the wsproxy reports at <wsproxy_addr>/status (500 server-misconfigured when " +
			"it cannot be reached).",
		Role: functions.User, Frozen: functions.ReadAllowed, Params: true,
		Errors:  []int{http.StatusNotFound},
		Aliases: projectAliases,
	}), func(ctx context.Context, in *wsproxyVersionInput) (*WSProxyVersionOutput, error) {
		ref := ""
		if p := in.Body.project(); p != nil {
			ref = *p
		}
		rows, err := allowed(ctx, s, functions.IdentityFrom(ctx), ref)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if r.Name != in.ScalingGroup {
				continue
			}
			out := &WSProxyVersionOutput{}
			if r.WsproxyAddr == nil || *r.WsproxyAddr == "" {
				out.Body.WSProxyVersion = "v1"
				return out, nil
			}
			v, err := queryWSProxyVersion(ctx, *r.WsproxyAddr)
			if err != nil {
				s.Deps().Log().Error("cannot query the wsproxy of a scaling group", "scaling_group", r.Name,
					"wsproxy_addr", *r.WsproxyAddr, "err", err, "request_id", functions.RequestID(ctx))
				return nil, functions.ErrServerMisconfigured("The wsproxy of the scaling group cannot be reached.")
			}
			out.Body.WSProxyVersion = v
			return out, nil
		}
		return nil, functions.ErrObjectNotFound("scaling group", "")
	})
}
