// Package testpki generates throwaway certificate authorities and
// certificates for TLS tests: ECDSA P-256 keys, one hour of validity, PEM
// files in a test's temporary directory. Nothing here is fit for anything
// but tests.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// ServerName is the DNS name the server certificate of New is issued for
// (besides the IP address 127.0.0.1).
const ServerName = "broker.test"

// Validity is how long generated certificates are valid (from a minute ago,
// to tolerate clock skew between the test and the broker).
const Validity = time.Hour

// CA is a certificate authority that issues server and client certificates.
type CA struct {
	// CertFile is the CA certificate as a PEM file (what a client or a
	// broker configures as its trusted roots).
	CertFile string

	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	dir  string
}

// Files are the PEM files of a CA and of a server and a client certificate
// it issued.
type Files struct {
	// CA is the CA certificate.
	CA string
	// ServerCert and ServerKey: a certificate for ServerName and 127.0.0.1.
	ServerCert, ServerKey string
	// ClientCert and ClientKey: a client certificate (CN "fleetbench-client").
	ClientCert, ClientKey string
}

// New creates a CA in a new temporary directory of t and issues a server
// certificate for ServerName and 127.0.0.1 and a client certificate.
func New(t testing.TB) Files {
	t.Helper()
	ca := NewCA(t, "fleetbench test CA")
	sc, sk := ca.Server(t, ServerName, "127.0.0.1")
	cc, ck := ca.Client(t, "fleetbench-client")
	return Files{CA: ca.CertFile, ServerCert: sc, ServerKey: sk, ClientCert: cc, ClientKey: ck}
}

// NewCA creates a self-signed CA named commonName and writes its
// certificate to a new temporary directory of t.
func NewCA(t testing.TB, commonName string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := template(t, commonName)
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("testpki: create CA: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testpki: parse CA: %v", err)
	}
	ca := &CA{cert: cert, key: key, dir: t.TempDir()}
	ca.CertFile = ca.write(t, "ca.pem", "CERTIFICATE", der)
	return ca
}

// CertPEM returns the CA certificate PEM-encoded: the content of CertFile.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

// Pool returns a new certificate pool holding only the CA certificate, for
// tls.Config.RootCAs or ClientCAs.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return pool
}

// Server issues a server certificate for names (DNS names or IP
// addresses) and returns its certificate and key files.
func (ca *CA) Server(t testing.TB, names ...string) (certFile, keyFile string) {
	t.Helper()
	return ca.files(t, "server-"+names[0], leafTemplate(t, names, x509.ExtKeyUsageServerAuth))
}

// ServerCertificate issues a server certificate for names (DNS names or IP
// addresses), as Server does, but returns it in memory, ready for
// tls.Config.Certificates, instead of as files.
func (ca *CA) ServerCertificate(t testing.TB, names ...string) tls.Certificate {
	t.Helper()
	tmpl := leafTemplate(t, names, x509.ExtKeyUsageServerAuth)
	der, key := ca.sign(t, "server-"+names[0], tmpl)
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testpki: parse server-%s: %v", names[0], err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// Node issues a certificate that serves and dials with the same identity
// (server and client authentication), as the nodes of a distributed run
// do, for names (DNS names or IP addresses).
func (ca *CA) Node(t testing.TB, names ...string) (certFile, keyFile string) {
	t.Helper()
	return ca.files(t, "node-"+names[0], leafTemplate(t, names, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth))
}

// Client issues a client certificate with common name commonName and
// returns its certificate and key files.
func (ca *CA) Client(t testing.TB, commonName string) (certFile, keyFile string) {
	t.Helper()
	tmpl := template(t, commonName)
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	return ca.files(t, "client-"+commonName, tmpl)
}

// files signs tmpl and writes the certificate and its key as PEM files.
func (ca *CA) files(t testing.TB, name string, tmpl *x509.Certificate) (string, string) {
	t.Helper()
	der, key := ca.sign(t, name, tmpl)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("testpki: marshal key: %v", err)
	}
	return ca.write(t, name+".pem", "CERTIFICATE", der), ca.write(t, name+"-key.pem", "PRIVATE KEY", pkcs8)
}

// sign issues tmpl for a new key and returns the certificate's DER and the key.
func (ca *CA) sign(t testing.TB, name string, tmpl *x509.Certificate) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key := newKey(t)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("testpki: issue %s: %v", name, err)
	}
	return der, key
}

func (ca *CA) write(t testing.TB, name, blockType string, der []byte) string {
	t.Helper()
	p := filepath.Join(ca.dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600); err != nil {
		t.Fatalf("testpki: %v", err)
	}
	return p
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testpki: generate key: %v", err)
	}
	return key
}

// leafTemplate is the template of a certificate for names (DNS names or IP
// addresses; the first is also the common name) with the given usages.
func leafTemplate(t testing.TB, names []string, usages ...x509.ExtKeyUsage) *x509.Certificate {
	t.Helper()
	tmpl := template(t, names[0])
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	tmpl.ExtKeyUsage = usages
	return tmpl
}

func template(t testing.TB, commonName string) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatalf("testpki: serial: %v", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName, Organization: []string{"fleetbench tests"}},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(Validity),
	}
}
