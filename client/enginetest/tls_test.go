package enginetest

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/e6coord/e6coord/client/e6xpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// TestTLS: under Options.TLS, in every rejection style (the HTTP gateway
// of 456 and the gRPC server alone), a client that trusts the CA of
// SelfSigned authenticates, and so does Server.Conn; a plaintext client
// and a client that trusts another CA do not.
func TestTLS(t *testing.T) {
	serverTLS, caPEM, err := SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	_, otherPEM, err := SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	trusting := func(pemCA []byte) grpc.DialOption {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemCA) {
			t.Fatal("no certificate in the CA's PEM")
		}
		return grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	}
	for _, r := range styles {
		t.Run(r.String(), func(t *testing.T) {
			s := newServer(t, Options{Rejection: r, TLS: serverTLS})
			if _, err := s.Engine().Authenticate(testCtx(t), &e6xpb.AuthenticateRequest{User: "u", Password: "p"}); err != nil {
				t.Errorf("Server.Conn: authenticate: %v", err)
			}
			for name, tt := range map[string]struct {
				opt grpc.DialOption
				ok  bool
			}{
				"the CA":     {trusting(caPEM), true},
				"another CA": {trusting(otherPEM), false},
				"no TLS":     {grpc.WithTransportCredentials(insecure.NewCredentials()), false},
			} {
				cc, err := grpc.NewClient(s.Addr(), tt.opt)
				if err != nil {
					t.Fatal(err)
				}
				_, err = e6xpb.NewQueryEngineServiceClient(cc).Authenticate(as(testCtx(t), "blue"), &e6xpb.AuthenticateRequest{User: "u", Password: "p"})
				cc.Close()
				if (err == nil) != tt.ok {
					t.Errorf("a client trusting %s: authenticate error = %v, want success %t", name, err, tt.ok)
				}
			}
		})
	}
}
