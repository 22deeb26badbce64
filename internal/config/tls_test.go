package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// writeSelfSigned writes a self-signed certificate and its key as PEM files in dir.
func writeSelfSigned(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hangar-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	return certPath, keyPath
}

func TestTLSOptions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir)

	cfg, err := TLSOptions{}.Config("etcd")
	require.NoError(t, err)
	require.Nil(t, cfg, "TLS stays off unless asked for")

	cfg, err = TLSOptions{SSLEnabled: true}.Config("etcd")
	require.NoError(t, err)
	require.NotNil(t, cfg)
	require.Nil(t, cfg.RootCAs, "the system roots")

	cfg, err = TLSOptions{SSLCA: cert, SSLCert: cert, SSLKey: key, SSLServerName: "etcd.internal"}.Config("etcd")
	require.NoError(t, err)
	require.NotNil(t, cfg.RootCAs)
	require.Len(t, cfg.Certificates, 1)
	require.Equal(t, "etcd.internal", cfg.ServerName)

	_, err = TLSOptions{SSLCA: key}.Config("redis")
	require.ErrorContains(t, err, "redis.ssl-ca")
	_, err = TLSOptions{SSLKey: key}.Config("redis")
	require.ErrorContains(t, err, "redis.ssl-cert and ssl-key go together")
	_, err = TLSOptions{SSLCert: cert, SSLKey: cert}.Config("etcd")
	require.ErrorContains(t, err, "etcd.ssl-cert/ssl-key")
}
