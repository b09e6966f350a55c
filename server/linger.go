package main

import (
	"io"
	"net"
	"sync"
	"time"
)

// A body over the limit is answered 413 by fasthttp as soon as it reads the request's
// Content-Length, and the connection is then closed with the rest of the body unread. Closing
// a TCP socket that still has unread data makes the kernel send a reset instead of a normal
// end, and a reset makes the client drop what it had received: the client, still busy
// writing its body, never reads the 413. Go's net/http avoids this with a "lingering close"
// and so does this listener: closing a connection first ends our side of it (the client reads
// the whole answer, then end of stream), then reads and throws away what the client still
// sends, for at most lingerTime and lingerBytes, and only then closes the socket. The wait
// happens in its own goroutine, so the server's goroutine is free at once.

const (
	lingerTime  = 2 * time.Second
	lingerBytes = 8 << 20
)

// lingerListener wraps a listener so that its connections close gracefully.
type lingerListener struct{ net.Listener }

// lingering returns ln with lingering close; serve and the tests' listeners use it.
func lingering(ln net.Listener) net.Listener { return lingerListener{ln} }

func (l lingerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		return &lingerConn{TCPConn: tc}, nil
	}
	return c, nil
}

// lingerConn is a TCP connection whose Close lingers; Close is safe to call more than once.
type lingerConn struct {
	*net.TCPConn
	once sync.Once
}

func (c *lingerConn) Close() error {
	c.once.Do(func() {
		// Our answer is written: send end of stream, so the client sees the answer complete.
		if err := c.TCPConn.CloseWrite(); err != nil {
			c.TCPConn.Close()
			return
		}
		go func() {
			c.TCPConn.SetReadDeadline(time.Now().Add(lingerTime))
			io.CopyN(io.Discard, c.TCPConn, lingerBytes)
			c.TCPConn.Close()
		}()
	})
	return nil
}
