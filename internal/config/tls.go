package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLSOptions are the keys that turn on TLS for a client connection to etcd or Redis (Hangar
// additions to the [etcd] and [redis] sections; Backend.AI has no such keys there). With
// ssl-enabled and nothing else, the server certificate is checked against the system's
// roots.
type TLSOptions struct {
	// SSLEnabled connects with TLS. Naming a CA, certificate or key implies it.
	SSLEnabled bool `toml:"ssl-enabled"`
	// SSLCA is a PEM file of the CA certificates that sign the server's certificate.
	SSLCA string `toml:"ssl-ca"`
	// SSLCert and SSLKey are a PEM client certificate and its key, for servers that
	// authenticate clients by certificate.
	SSLCert string `toml:"ssl-cert"`
	SSLKey  string `toml:"ssl-key"`
	// SSLServerName is the name the server certificate must carry, when it is not the host
	// of the address.
	SSLServerName string `toml:"ssl-server-name"`
}

// Enabled reports whether the connection uses TLS.
func (o TLSOptions) Enabled() bool {
	return o.SSLEnabled || o.SSLCA != "" || o.SSLCert != "" || o.SSLKey != ""
}

// Config returns the TLS client configuration, nil when TLS is off. section names the
// configuration section in errors ("etcd", "redis").
func (o TLSOptions) Config(section string) (*tls.Config, error) {
	if !o.Enabled() {
		return nil, nil //nolint:nilnil // no TLS is a valid answer
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.SSLServerName}
	if o.SSLCA != "" {
		pem, err := os.ReadFile(o.SSLCA)
		if err != nil {
			return nil, fmt.Errorf("%s.ssl-ca: %w", section, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s.ssl-ca: %s holds no PEM certificate", section, o.SSLCA)
		}
		cfg.RootCAs = pool
	}
	switch {
	case o.SSLCert != "" && o.SSLKey != "":
		cert, err := tls.LoadX509KeyPair(o.SSLCert, o.SSLKey)
		if err != nil {
			return nil, fmt.Errorf("%s.ssl-cert/ssl-key: %w", section, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case o.SSLCert != "" || o.SSLKey != "":
		return nil, errors.New(section + ".ssl-cert and ssl-key go together")
	}
	return cfg, nil
}
