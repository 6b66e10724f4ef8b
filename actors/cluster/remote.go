package cluster

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// tokenHeader is the gRPC metadata key that carries the shared token.
const tokenHeader = "fleetbench-token"

// RemoteOptions configure the Proto.Actor remote (gRPC) transport between
// a distributed run's coordinator and its workers.
type RemoteOptions struct {
	// Listen is the host:port to listen on (default 127.0.0.1:0 for the
	// coordinator). Advertise is the host:port other nodes reach this one
	// at, when it differs (NAT, 0.0.0.0).
	Listen, Advertise string
	// Token is the shared secret every node must present. It may be empty
	// only when listening on loopback.
	Token string
	// TLS, when set, encrypts and mutually authenticates the transport.
	TLS *RemoteTLS
}

// RemoteTLS is mutual TLS for the remote transport: every node presents
// Cert/Key and accepts peers whose certificate CA signed.
type RemoteTLS struct {
	CertFile, KeyFile, CAFile string
}

// load reads the certificate, key and CA.
func (t *RemoteTLS) load() (*tls.Certificate, *x509.CertPool, error) {
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("remote tls: load certificate %s / key %s: %w", t.CertFile, t.KeyFile, err)
	}
	pem, err := os.ReadFile(t.CAFile)
	if err != nil {
		return nil, nil, fmt.Errorf("remote tls: read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, nil, fmt.Errorf("remote tls: %s holds no PEM certificate", t.CAFile)
	}
	return &cert, pool, nil
}

// grpcOptions returns the server and dial options that enforce the token
// (and TLS) on every connection, both ways.
func (o *RemoteOptions) grpcOptions() ([]grpc.ServerOption, []grpc.DialOption, error) {
	check := func(ctx context.Context) error {
		if o.Token == "" {
			return nil
		}
		md, _ := metadata.FromIncomingContext(ctx)
		for _, v := range md.Get(tokenHeader) {
			if subtle.ConstantTimeCompare([]byte(v), []byte(o.Token)) == 1 {
				return nil
			}
		}
		return status.Error(codes.Unauthenticated, "fleetbench: missing or wrong token")
	}
	server := []grpc.ServerOption{
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			if err := check(ss.Context()); err != nil {
				return err
			}
			return handler(srv, ss)
		}),
		// Proto.Actor's unary diagnostics are unimplemented and panic
		// (which would kill the worker): answer the probe here and refuse
		// the rest.
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, _ grpc.UnaryHandler) (any, error) {
			if err := check(ctx); err != nil {
				return nil, err
			}
			if info.FullMethod == remote.Remoting_ListProcesses_FullMethodName {
				return &remote.ListProcessesResponse{}, nil
			}
			return nil, status.Error(codes.Unimplemented, "not served")
		}),
	}
	withToken := func(ctx context.Context) context.Context {
		if o.Token == "" {
			return ctx
		}
		return metadata.AppendToOutgoingContext(ctx, tokenHeader, o.Token)
	}
	dial := []grpc.DialOption{
		grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(withToken(ctx), desc, cc, method, opts...)
		}),
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(withToken(ctx), method, req, reply, cc, opts...)
		}),
	}
	if o.TLS == nil {
		dial = append(dial, grpc.WithTransportCredentials(insecure.NewCredentials()))
	} else {
		cert, pool, err := o.TLS.load()
		if err != nil {
			return nil, nil, err
		}
		server = append(server, grpc.Creds(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{*cert}, ClientCAs: pool,
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
		})))
		dial = append(dial, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{*cert}, RootCAs: pool, MinVersion: tls.VersionTLS12,
		})))
	}
	return server, dial, nil
}

// validate checks the listen address and that a token guards anything
// beyond loopback.
func (o *RemoteOptions) validate() (host string, port int, err error) {
	h, p, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return "", 0, fmt.Errorf("listen address %q: %w", o.Listen, err)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("listen address %q: bad port", o.Listen)
	}
	ip := net.ParseIP(h)
	loopback := h == "localhost" || (ip != nil && ip.IsLoopback())
	if !loopback && o.Token == "" {
		return "", 0, fmt.Errorf("listening on %s needs a shared token (--token-file): only loopback may go without one", o.Listen)
	}
	if (h == "" || (ip != nil && ip.IsUnspecified())) && o.Advertise == "" {
		return "", 0, fmt.Errorf("listening on %s needs --advertise HOST:PORT: the address other nodes reach this one at", o.Listen)
	}
	if o.Advertise != "" {
		if _, _, err := net.SplitHostPort(o.Advertise); err != nil {
			return "", 0, fmt.Errorf("advertise address %q: %w", o.Advertise, err)
		}
	}
	return h, port, nil
}

// startRemote starts the remote transport on sys and returns the address
// other nodes reach it at.
func startRemote(sys *actor.ActorSystem, o *RemoteOptions, kinds ...*remote.Kind) (*remote.Remote, string, error) {
	host, port, err := o.validate()
	if err != nil {
		return nil, "", err
	}
	server, dial, err := o.grpcOptions()
	if err != nil {
		return nil, "", err
	}
	// Proto.Actor panics when it cannot listen: find out first.
	probe, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, "", fmt.Errorf("listen on %s: %w", o.Listen, err)
	}
	if port == 0 {
		port = probe.Addr().(*net.TCPAddr).Port
	}
	probe.Close()
	opts := []remote.ConfigOption{remote.WithServerOptions(server...), remote.WithDialOptions(dial...), remote.WithKinds(kinds...)}
	if o.Advertise != "" {
		opts = append(opts, remote.WithAdvertisedHost(o.Advertise))
	}
	// Proto.Actor joins host and port with a bare colon (Config.Address):
	// an IPv6 host needs its brackets kept, or the listen fails with "too
	// many colons in address".
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	r := remote.NewRemote(sys, remote.Configure(host, port, opts...))
	if err := startSafely(r); err != nil {
		return nil, "", err
	}
	return r, sys.Address(), nil
}

func startSafely(r *remote.Remote) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("start the remote transport: %v", p)
		}
	}()
	r.Start()
	return nil
}

// probeWorker checks, before anything starts, that a worker answers on
// addr and accepts our token.
func probeWorker(ctx context.Context, o *RemoteOptions, addr string) error {
	_, dial, err := o.grpcOptions()
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(addr, dial...)
	if err != nil {
		return fmt.Errorf("worker %s: %w", addr, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = remote.NewRemotingClient(conn).ListProcesses(ctx, &remote.ListProcessesRequest{})
	switch status.Code(err) {
	case codes.OK:
		return nil
	case codes.Unauthenticated:
		return fmt.Errorf("worker %s refused our token: give every node the same --token-file", addr)
	case codes.DeadlineExceeded, codes.Unavailable:
		return fmt.Errorf("cannot reach worker %s (is `fleetbench worker --listen %s` running there, reachable from here, and using the same --tls-* CA as this coordinator?): %v", addr, addr, err)
	}
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("interrupted while reaching worker %s", addr)
	}
	return fmt.Errorf("worker %s: %v", addr, err)
}
