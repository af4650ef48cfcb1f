package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// respError is an error reply of the server ("-ERR ...").
type respError string

func (e respError) Error() string { return string(e) }

// command sends one command, as a RESP array, to addr over a fresh
// connection, after AUTH password when password is set, and returns the
// reply, all within timeout: a string for a simple or bulk string, an
// int64, nil for a nil reply, a []any for an array. An error reply is
// returned as an error, a respError.
func command(addr, password string, timeout time.Duration, args ...string) (any, error) {
	replies, err := commands(addr, password, timeout, args)
	if err != nil {
		return nil, err
	}
	return replies[0], nil
}

// commands is [command] for several commands, sent one after the other on
// one connection; it stops at the first error.
func commands(addr, password string, timeout time.Duration, cmds ...[]string) ([]any, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	rd := bufio.NewReader(c)
	if password != "" {
		if _, err := roundTrip(c, rd, "AUTH", password); err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
	}
	var replies []any
	for _, args := range cmds {
		reply, err := roundTrip(c, rd, args...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", args[0], err)
		}
		replies = append(replies, reply)
	}
	return replies, nil
}

// roundTrip writes one command and reads its reply; an error reply is
// returned as an error.
func roundTrip(w io.Writer, rd *bufio.Reader, args ...string) (any, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return nil, err
	}
	reply, err := readReply(rd)
	if err != nil {
		return nil, err
	}
	if e, ok := reply.(respError); ok {
		return nil, e
	}
	return reply, nil
}

// readReply reads one RESP2 reply.
func readReply(rd *bufio.Reader) (any, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("empty reply line")
	}
	body := line[1:]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return respError(body), nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, nil
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = readReply(rd); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected reply line %q", line)
}

// infoField returns the value of field in the text of an INFO reply, and
// whether it is there.
func infoField(info, field string) (string, bool) {
	for line := range strings.SplitSeq(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && k == field {
			return v, true
		}
	}
	return "", false
}
