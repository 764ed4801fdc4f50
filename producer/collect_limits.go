package producer

import (
	"net"
	"sync"
	"sync/atomic"
)

// budget bounds the bytes of request bodies held at once.
type budget struct {
	max int64
	cur atomic.Int64
}

func (b *budget) tryAcquire(n int64) bool {
	for {
		cur := b.cur.Load()
		if cur+n > b.max {
			return false
		}
		if b.cur.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

func (b *budget) release(n int64) { b.cur.Add(-n) }

// limitListener caps open connections: memory per connection is bounded,
// so the count must be too.
type limitListener struct {
	net.Listener
	sem  chan struct{}
	done chan struct{}
	once sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	conn, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: conn, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
