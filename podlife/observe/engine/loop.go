package main

import (
	"errors"
	"io"
	"net"
	"runtime"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

// rawRead and rawWrite read and write a non-blocking socket. Such a call never waits, so it goes to
// the kernel without telling Go's scheduler that the thread may block (RawSyscall), as the
// scheduler's own non-blocking calls do: with syscall.Read and syscall.Write the engine used
// 2-3 % more CPU a request and made 11-12 % more context switches (perf stat, 48,000 kept-alive
// requests at 12,000/s, 2026-12-04). epoll_wait, which does wait, stays an ordinary call.
func rawRead(fd int, p []byte) (int, error) {
	return rawIO(syscall.SYS_READ, fd, p)
}

func rawWrite(fd int, p []byte) (int, error) {
	return rawIO(syscall.SYS_WRITE, fd, p)
}

func rawIO(call uintptr, fd int, p []byte) (int, error) {
	n, _, errno := syscall.RawSyscall(call, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}

// The event loop: one thread owns an epoll instance, the connections, the clients (kept-alive
// connections) and the schedule, and does all of a request's work itself: send it
// when it is due, read its answer as the socket hands it over, time it out, write its line. No
// goroutine, channel or lock stands between a request and the kernel; a goroutine per request (or
// per client) cost three times wrk's CPU a request, a third of it waking goroutines on other
// threads (bench/traffic.py, 2026-12-04).
//
// The interest is level-triggered and a wait has room for every connection a kept-alive run can
// have (one per client), so each wait reports every idle kept-alive connection its server closed;
// one that closed with its answer reports both in the same event. Either way the loop knows,
// without a look (a syscall) per request, which connections are closed as of its latest wait.

// attempt is one try at a request: one line of the ledger. A kept-alive request the server cut off
// before answering has two: the cut-off one and the retry.
type attempt struct {
	result
	sentAt   time.Time
	queued   time.Time // when it began to wait for a free client; zero if it did not
	deadline time.Time
	conn     *conn
	client   *client
	// finished: its line is written and its connection no longer waits on it.
	finished bool
}

type conn struct {
	fd         int
	local      string
	client     *client  // nil: a connection of its own for one request
	att        *attempt // the request on it; nil while it is idle
	unsent     []byte   // what of the request the socket has not taken yet
	connecting bool
	// waitingRoom: the socket took part of the request; the loop waits for room for the rest.
	waitingRoom bool
	// draining: its answer is recorded, and the connection waits for the server to close it first
	// (the side that closes first holds the port in TIME_WAIT for a minute; thousands a second of
	// those here would use up the ports the next connects need).
	draining bool
	answer   answer
	partial  []byte // the start of a part of the answer that has not fully arrived
}

// client is a simulated client with its kept-alive connection.
type client struct {
	conn     *conn
	answerer string // the pod that answered on conn: a connection reaches one pod
	reopen   bool   // the server closed its connection while it was idle
}

// queue is a first-in first-out queue.
type queue[T any] struct {
	items []T
	first int
}

func (q *queue[T]) push(item T) { q.items = append(q.items, item) }
func (q *queue[T]) empty() bool { return q.first == len(q.items) }
func (q *queue[T]) peek() T     { return q.items[q.first] }

func (q *queue[T]) pop() T {
	item := q.items[q.first]
	var zero T
	q.items[q.first] = zero
	q.first++
	if q.first == len(q.items) {
		q.items, q.first = q.items[:0], 0
	} else if q.first > 1024 && q.first*2 > len(q.items) {
		q.items, q.first = append(q.items[:0], q.items[q.first:]...), 0
	}
	return item
}

type loop struct {
	e       *engine
	epfd    int
	byFd    []*conn
	idle    queue[*client]
	queued  queue[job]      // requests due while every client was busy, in order
	flight  queue[*attempt] // in the order sent, which is the order of their deadlines
	lines   []byte
	read    []byte
	events  []syscall.EpollEvent
	target  syscall.Sockaddr
	family  int
	written int64 // lines
	open    int   // connections open (new-connection mode: at most e.connections)
}

// flushEvery is how often request lines go to standard output: a write per request would cost
// more than the request, and the harness reads the ledger mid-window.
const flushEvery = 50 * time.Millisecond

func newLoop(e *engine, clients int) (*loop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	l := &loop{e: e, epfd: epfd, read: make([]byte, 64<<10), events: make([]syscall.EpollEvent, max(256, clients+1))}
	for i := 0; i < clients; i++ {
		l.idle.push(&client{})
	}
	return l, nil
}

// run sends the schedule's requests from start until it ends or the engine stops, then waits for
// the ones in flight.
func (l *loop) run(start time.Time) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer syscall.Close(l.epfd)
	e := l.e
	seq, scheduling := int64(0), true
	flushed := time.Now()
	for {
		now := time.Now()
		l.release()
		var due time.Time
		for scheduling {
			offset := time.Duration(float64(seq) / e.rate * float64(time.Second))
			if seq >= e.count || offset > e.limit || e.stopped.Load() {
				scheduling = false
				break
			}
			due = start.Add(offset)
			if due.After(now) {
				break
			}
			l.dispatch(job{seq: seq, scheduled: due})
			seq++
		}
		l.expire(now)
		if now.Sub(flushed) >= flushEvery {
			l.flush()
			flushed = now
		}
		if !scheduling && l.flight.empty() && l.queued.empty() {
			break
		}
		wake := flushed.Add(flushEvery)
		if scheduling && due.Before(wake) {
			wake = due
		}
		if !l.flight.empty() && l.flight.peek().deadline.Before(wake) {
			wake = l.flight.peek().deadline
		}
		l.wait(time.Until(wake))
	}
	for _, c := range l.byFd {
		if c != nil {
			l.close(c)
		}
	}
	l.flush()
}

// wait waits up to d for the sockets, rounded up to epoll's milliseconds (a request goes out at
// most a millisecond after its time), and handles what they report.
func (l *loop) wait(d time.Duration) {
	ms := int((d + time.Millisecond - 1) / time.Millisecond)
	if ms < 0 {
		ms = 0
	}
	n, err := syscall.EpollWait(l.epfd, l.events, ms)
	if err != nil {
		return // EINTR: the loop looks at the clock and waits again
	}
	for _, event := range l.events[:n] {
		c := l.conn(int(event.Fd))
		if c == nil {
			continue
		}
		if c.connecting {
			l.connected(c)
		} else if event.Events&syscall.EPOLLOUT != 0 && c.waitingRoom {
			l.write(c)
		} else if event.Events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
			l.receive(c, event.Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0)
		}
	}
}

func (l *loop) conn(fd int) *conn {
	if fd < len(l.byFd) {
		return l.byFd[fd]
	}
	return nil
}

// dispatch sends a due request: on a connection of its own, or on an idle client's, or queues it
// for the first client that frees up.
func (l *loop) dispatch(j job) {
	if l.e.keepalive == 0 {
		if l.open >= l.e.connections || !l.queued.empty() {
			j.queued = time.Now()
			l.queued.push(j)
			return
		}
		l.sendNew(j)
		return
	}
	if l.idle.empty() {
		j.queued = time.Now()
		l.queued.push(j)
		return
	}
	l.send(l.idle.pop(), j)
}

// release sends the requests that waited for a connection to close, in order, while fewer than
// the most are open (new-connection mode). A server that stops accepting keeps connections open up
// to the timeout; without a bound, thousands a second of them use up this host's ephemeral ports,
// and each connect then scans the whole range: the loop fell seconds behind its schedule, at four
// times its CPU a request (9,500/s against a server accepting about 8,900, 2026-12-05). The wait,
// like a kept-alive pool's, is the app's doing and is recorded as such.
func (l *loop) release() {
	for l.e.keepalive == 0 && !l.queued.empty() && l.open < l.e.connections {
		l.sendNew(l.queued.pop())
	}
}

// sendNew sends a request on a connection of its own.
func (l *loop) sendNew(j job) {
	l.begin(&attempt{result: result{seq: j.seq, scheduled: micros(j.scheduled), connection: "new"}, queued: j.queued})
}

func (l *loop) send(cl *client, j job) {
	a := &attempt{result: result{seq: j.seq, scheduled: micros(j.scheduled), connection: "reused"}, client: cl, queued: j.queued}
	if cl.conn == nil {
		a.connection = "new"
		if cl.reopen {
			a.connection = "reopened"
		}
		cl.reopen = false
	}
	l.begin(a)
}

// begin sends an attempt, on its client's connection or a new one.
func (l *loop) begin(a *attempt) {
	a.sentAt = time.Now()
	a.sent = micros(a.sentAt)
	if !a.queued.IsZero() {
		a.waited = a.sentAt.Sub(a.queued).Microseconds()
	}
	a.deadline = a.sentAt.Add(l.e.timeout)
	l.flight.push(a)
	if a.client != nil && a.client.conn != nil {
		c := a.client.conn
		c.att, a.conn = a, c
		c.answer.reset()
		c.unsent = l.e.request
		l.write(c)
		return
	}
	c, err := l.dial()
	if err != nil {
		l.record(a, describe(err))
		return
	}
	c.client, c.att, a.conn = a.client, a, c
	c.unsent = l.e.request
	if a.client != nil {
		a.client.conn = c
	}
	if !c.connecting {
		l.connected(c)
	}
}

// dial opens a non-blocking connection to the target; it is connecting until the socket says otherwise.
func (l *loop) dial() (*conn, error) {
	if l.target == nil {
		address, err := net.ResolveTCPAddr("tcp", l.e.address)
		if err != nil {
			var dnsErr *net.DNSError
			if errors.As(err, &dnsErr) {
				return nil, errors.New("cannot resolve the host (" + dnsErr.Err + ")")
			}
			return nil, err
		}
		if ip4 := address.IP.To4(); ip4 != nil {
			target := &syscall.SockaddrInet4{Port: address.Port}
			copy(target.Addr[:], ip4)
			l.target, l.family = target, syscall.AF_INET
		} else {
			target := &syscall.SockaddrInet6{Port: address.Port}
			copy(target.Addr[:], address.IP.To16())
			l.target, l.family = target, syscall.AF_INET6
		}
	}
	fd, err := syscall.Socket(l.family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	err = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{
		Events: syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP, Fd: int32(fd)})
	if err != nil {
		syscall.Close(fd)
		return nil, err
	}
	c := &conn{fd: fd}
	for len(l.byFd) <= fd {
		l.byFd = append(l.byFd, nil)
	}
	l.byFd[fd] = c
	l.open++
	switch err = syscall.Connect(fd, l.target); err {
	case nil:
	case syscall.EINPROGRESS:
		c.connecting = true
	default:
		l.close(c)
		return nil, err
	}
	return c, nil
}

// connected finishes a connect the socket reported on, and writes the request.
func (l *loop) connected(c *conn) {
	failure, err := syscall.GetsockoptInt(c.fd, syscall.SOL_SOCKET, syscall.SO_ERROR)
	if err == nil && failure != 0 {
		err = syscall.Errno(failure)
	}
	if err != nil {
		l.fail(c, err)
		return
	}
	c.connecting = false
	// Only the answer is waited for from now on: a writable socket would report at every wait.
	if !l.watchOrFail(c, 0) {
		return
	}
	if local, err := syscall.Getsockname(c.fd); err == nil {
		c.local = address(local)
	}
	l.write(c)
}

// watchOrFail sets what the loop waits for on c: its answer, and room to write when writable is
// EPOLLOUT; false when it could not, and the attempt failed.
func (l *loop) watchOrFail(c *conn, writable uint32) bool {
	err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_MOD, c.fd, &syscall.EpollEvent{
		Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | writable, Fd: int32(c.fd)})
	if err != nil {
		l.fail(c, err)
	}
	return err == nil
}

// address is a socket's address as ip:port ([ip]:port for IPv6).
func address(sa syscall.Sockaddr) string {
	var ip net.IP
	var port int
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		ip, port = sa.Addr[:], sa.Port
	case *syscall.SockaddrInet6:
		ip, port = sa.Addr[:], sa.Port
	default:
		return ""
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(port))
}

// write writes what the socket takes of the request; the rest when it reports room.
func (l *loop) write(c *conn) {
	c.att.local = c.local
	for len(c.unsent) > 0 {
		n, err := rawWrite(c.fd, c.unsent)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			if !c.waitingRoom {
				c.waitingRoom = true
				l.watchOrFail(c, syscall.EPOLLOUT)
			}
			return
		case err != nil:
			l.fail(c, err)
			return
		}
		c.unsent = c.unsent[n:]
	}
	if c.waitingRoom { // written at last: a writable socket would report at every wait
		c.waitingRoom = false
		l.watchOrFail(c, 0)
	}
}

// receive reads what the socket has: part of the answer (or all of it), or its end; hungUp: the
// wait reported the server's close (or a failure) too, which a read returning data does not tell.
func (l *loop) receive(c *conn, hungUp bool) {
	n, err := rawRead(c.fd, l.read)
	switch {
	case err == syscall.EAGAIN || err == syscall.EINTR:
		return
	case c.draining:
		if n <= 0 { // the server closed it (or it failed): done with it either way
			c.att.finished = true
			l.close(c)
		}
		return
	case c.att == nil:
		// An idle kept-alive connection the server closed (or sent what nobody asked for): it is
		// not used again, as client pools check before reusing one.
		c.client.conn, c.client.reopen = nil, true
		l.close(c)
		return
	case err != nil:
		l.fail(c, err)
		return
	case n == 0:
		if c.answer.started && c.answer.ended(l.e.naming) {
			l.answered(c, false)
		} else {
			l.fail(c, io.EOF)
		}
		return
	}
	data := l.read[:n]
	if len(c.partial) > 0 {
		c.partial = append(c.partial, data...)
		data = c.partial
	}
	used, err := c.answer.feed(data, l.e.naming, l.e.header)
	if err != nil {
		c.partial = c.partial[:0]
		l.fail(c, err)
		return
	}
	if c.answer.stage == complete {
		c.partial = c.partial[:0]
		l.answered(c, used < len(data) || hungUp)
		return
	}
	c.partial = append(c.partial[:0], data[used:]...)
}

// answered records a complete answer; spent: the server sent more than it, or closed the
// connection with it (without saying so), so the connection is not used again and its client's
// next request goes on a new one, "reopened", as a pool that saw the close would do.
func (l *loop) answered(c *conn, spent bool) {
	a := c.att
	a.status, a.pod = c.answer.status, c.answer.pod
	if c.answer.close {
		a.connection += ",close"
	}
	if c.client == nil && c.answer.close {
		c.draining = true // the attempt is finished once the server has closed it, or at its deadline
		l.line(a, "")
		return
	}
	if c.answer.close || spent || c.client == nil {
		if c.client != nil {
			// A close the answer announced is not a reopening: the next connection is new.
			c.client.conn, c.client.reopen = nil, spent && !c.answer.close
		}
		l.close(c)
	}
	c.att = nil
	l.record(a, "")
}

// fail ends the attempt on c with err, and the connection with it; a request the server cut off
// before any of its answer, on a connection kept from an earlier one, is sent once more on a new
// connection.
func (l *loop) fail(c *conn, err error) {
	a, cl := c.att, c.client
	l.close(c)
	if cl != nil {
		cl.conn = nil
	}
	if a == nil {
		return
	}
	if a.connection == "reused" && !c.answer.started && cutBeforeAnswer(err) {
		// HTTP/1.1 lets a server close a kept connection at any moment, so a client cannot tell a
		// request the server never read from one it dropped; pools (Go's, curl, browsers) send a
		// GET once more on a new connection (RFC 9112, 9.3.1). The first attempt stays in the
		// ledger, marked and named after the pod that had answered on the connection, for the
		// verdicts to see what was cut off where.
		a.connection, a.pod, a.finished = retried, cl.answerer, true
		l.line(a, describe(err))
		l.begin(&attempt{result: result{seq: a.seq, scheduled: a.scheduled, connection: "retry"}, client: cl})
		return
	}
	l.record(a, describe(err))
}

// record writes an attempt's line and frees its client for the next request.
func (l *loop) record(a *attempt, err string) {
	a.finished = true
	l.line(a, err)
	if cl := a.client; cl != nil {
		cl.answerer = a.pod
		if !l.queued.empty() {
			l.send(cl, l.queued.pop())
		} else {
			l.idle.push(cl)
		}
	}
}

// line writes an attempt's line to the loop's buffer.
func (l *loop) line(a *attempt, err string) {
	a.err = err
	a.latency = time.Since(a.sentAt).Microseconds()
	l.lines = appendLine(l.lines, a.result)
	l.written++
}

// expire times out the attempts past their deadline, and closes the connections still draining then.
func (l *loop) expire(now time.Time) {
	for !l.flight.empty() {
		a := l.flight.peek()
		if !a.finished && a.deadline.After(now) {
			return
		}
		l.flight.pop()
		if a.finished {
			continue
		}
		if a.conn != nil && a.conn.draining { // answered; its server never closed the connection
			l.close(a.conn)
			continue
		}
		if a.conn != nil {
			l.close(a.conn)
			if a.client != nil {
				a.client.conn = nil
			}
		}
		l.record(a, "timed out")
	}
}

func (l *loop) close(c *conn) {
	if l.byFd[c.fd] == c {
		l.byFd[c.fd] = nil
		l.open--
		syscall.Close(c.fd) // closing it takes it out of the epoll set too
	}
}

func (l *loop) flush() {
	if len(l.lines) > 0 {
		l.e.chunks <- l.lines
		l.lines = make([]byte, 0, cap(l.lines))
	}
}
