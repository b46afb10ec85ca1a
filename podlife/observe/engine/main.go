// podlife-traffic: podlife's open-loop HTTP/1.1 traffic engine. Every request is scheduled at
// start + seq/rate, sent on time whatever the ones before it are doing (no coordinated omission),
// and written as one line to standard output as soon as it ends, so the harness streams the
// ledger instead of reading it at the end. Standard library only: it builds offline, statically,
// and runs wherever a Linux binary can be copied (the host, or a pod of the reference images).
//
// It is driven by lines on standard input, so the same conversation works over a pipe on the host
// and over an exec stream into a pod: "clock" answers "CLOCK <now µs>" at once (the harness
// measures the offset between its clock and this one from the round trips); "start <µs>" starts
// the schedule at that instant of this engine's clock (0: now) and answers "START <µs>"; "stop",
// or the end of the input, stops the schedule, and the requests in flight end (or time out) first.
// The first line out is "READY <now µs>", the last "END <lines> <CPU µs>" (user and system time
// the engine used: what a request costs it, for the harness's capacity figures).
//
// A request's line: seq, scheduled, sent (both µs since the epoch on this engine's clock),
// latency (µs), status (0 for none), error (- for none), the client's local address, the
// connection (new; reused, a kept-alive one; reopened, new because the server had closed the
// kept-alive one while it was idle; with ",close" when the answer closed it), and the pod the
// answer named (- for none), separated by tabs.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type result struct {
	seq             int64
	scheduled, sent int64
	latency         int64
	status          int
	err, local, pod string
	connection      string
}

type engine struct {
	address  string
	request  []byte
	timeout  time.Duration
	naming   string
	header   string
	results  chan result
	stopped  atomic.Bool
	inFlight sync.WaitGroup
}

func micros(t time.Time) int64 { return t.UnixMicro() }

// cpuMicros is the CPU time this process has used, user and system, in µs.
func cpuMicros() int64 {
	var usage syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &usage) != nil {
		return -1
	}
	return usage.Utime.Nano()/1000 + usage.Stime.Nano()/1000
}

// readers are reused across connections: a new 4 KiB buffer per request is most of what the
// collector would otherwise sweep at thousands of requests a second.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

func reader(conn net.Conn) *bufio.Reader {
	r := readers.Get().(*bufio.Reader)
	r.Reset(conn)
	return r
}

func release(r *bufio.Reader) {
	r.Reset(nil)
	readers.Put(r)
}

// describe turns a failure into the words podlife's ledgers use.
func describe(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "Connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "Connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "No route to host"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timed out"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "RemoteDisconnected"
	}
	return strings.ReplaceAll(strings.ReplaceAll(err.Error(), "\t", " "), "\n", " ")
}

// exchange sends one request on conn and reads the whole answer, within deadline.
func (e *engine) exchange(conn net.Conn, reader *bufio.Reader, deadline time.Time) (status int, pod string, keep bool, err error) {
	if err = conn.SetDeadline(deadline); err != nil {
		return
	}
	if _, err = conn.Write(e.request); err != nil {
		return
	}
	// The answer's first byte, alone: an end of the connection before it is io.EOF here, where
	// ReadResponse would say io.ErrUnexpectedEOF, as for an answer cut off halfway.
	if _, err = reader.Peek(1); err != nil {
		return
	}
	response, err := http.ReadResponse(reader, nil)
	if err != nil {
		return
	}
	body, err := io.ReadAll(io.LimitReader(response.Body, 1<<20))
	response.Body.Close()
	if err != nil {
		return
	}
	status = response.StatusCode
	switch e.naming {
	case "body":
		pod = strings.TrimSpace(string(body))
	case "header":
		pod = strings.TrimSpace(response.Header.Get(e.header))
	}
	if len(pod) > 253 || strings.ContainsAny(pod, " \t\n") {
		pod = ""
	}
	return status, pod, !response.Close, nil
}

// once sends request seq on a connection of its own.
func (e *engine) once(seq int64, scheduled time.Time) {
	defer e.inFlight.Done()
	sent := time.Now()
	r := result{seq: seq, scheduled: micros(scheduled), sent: micros(sent), connection: "new"}
	deadline := sent.Add(e.timeout)
	conn, err := net.DialTimeout("tcp", e.address, e.timeout)
	if err == nil {
		r.local = conn.LocalAddr().String()
		buffered := reader(conn)
		r.status, r.pod, _, err = e.exchange(conn, buffered, deadline)
		if err == nil {
			// Wait for the server to close first: the side that closes first keeps the connection in
			// TIME_WAIT for a minute, and thousands a second of those on this side would use up the
			// ephemeral ports the next connects need.
			io.Copy(io.Discard, buffered)
		}
		release(buffered)
		conn.Close()
	}
	if err != nil {
		r.err = describe(err)
	}
	r.latency = time.Since(sent).Microseconds()
	e.results <- r
}

type job struct {
	seq       int64
	scheduled time.Time
}

// closedByServer tells whether the server closed an idle kept-alive connection (or sent what
// nobody asked for), as HTTP client pools check before reusing one: a request written after the
// server's FIN arrived fails for a reason the client could have seen. It peeks at the socket
// without waiting (a read with a deadline already past returns before looking at the socket).
func closedByServer(conn net.Conn, reader *bufio.Reader) bool {
	if reader.Buffered() > 0 {
		return true
	}
	raw, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	var buf [1]byte
	err = raw.Read(func(fd uintptr) bool {
		n, _, peekErr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = n > 0 || (n == 0 && peekErr == nil) || (peekErr != nil && peekErr != syscall.EAGAIN)
		return true // done, whatever it found: never wait for the socket
	})
	return closed || err != nil
}

// client keeps one connection alive across the requests it is handed, opening a new one when the
// server closed the last (or it failed).
func (e *engine) client(jobs <-chan job) {
	var conn net.Conn
	var buffered *bufio.Reader
	var answerer string // the pod that answered on conn: a connection reaches one pod
	for j := range jobs {
		r := result{seq: j.seq, scheduled: micros(j.scheduled), connection: "new"}
		if conn != nil && closedByServer(conn, buffered) {
			conn.Close()
			conn, r.connection = nil, "reopened"
		} else if conn != nil {
			r.connection = "reused"
		}
		var err error
		conn, buffered, err = e.attempt(conn, buffered, &r)
		if r.connection == "reused" && cutBeforeAnswer(err) {
			// HTTP/1.1 lets a server close a kept connection at any moment, so a client cannot tell a
			// request the server never read from one it dropped; pools (Go's, curl, browsers) send a
			// GET once more on a new connection (RFC 9112, 9.3.1). The first attempt stays in the
			// ledger, marked and named after the pod that had answered on the connection, for the
			// verdicts to see what was cut off where.
			r.connection, r.pod = "reused,retried", answerer
			e.results <- r
			r = result{seq: j.seq, scheduled: r.scheduled, connection: "retry"}
			conn, buffered, _ = e.attempt(nil, nil, &r)
		}
		answerer = r.pod
		e.results <- r
		e.inFlight.Done()
	}
	if conn != nil {
		conn.Close()
	}
}

// attempt sends r's request on conn (on a new connection when conn is nil) and fills in r; it
// returns the connection to keep, nil when the answer or a failure ended it.
func (e *engine) attempt(conn net.Conn, buffered *bufio.Reader, r *result) (net.Conn, *bufio.Reader, error) {
	sent := time.Now()
	r.sent = micros(sent)
	var err error
	if conn == nil {
		if conn, err = net.DialTimeout("tcp", e.address, e.timeout); err == nil {
			buffered = bufio.NewReaderSize(conn, 4096)
		}
	}
	keep := false
	if err == nil {
		r.local = conn.LocalAddr().String()
		r.status, r.pod, keep, err = e.exchange(conn, buffered, sent.Add(e.timeout))
	}
	if err != nil {
		r.err = describe(err)
	} else if !keep {
		r.connection += ",close"
	}
	r.latency = time.Since(sent).Microseconds()
	if !keep {
		if conn != nil {
			conn.Close()
		}
		return nil, nil, err
	}
	return conn, buffered, err
}

// cutBeforeAnswer tells whether a connection ended before any of the answer came: the server
// closed or reset it. A timeout is not one: the server may still be working on the request.
func cutBeforeAnswer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// output is standard output shared by the request lines and the answers to commands.
type output struct {
	sync.Mutex
	w *bufio.Writer
}

// say writes one line and flushes it at once (the answers to commands, which the harness waits for).
func (o *output) say(format string, args ...any) {
	o.Lock()
	defer o.Unlock()
	fmt.Fprintf(o.w, format+"\n", args...)
	o.w.Flush()
}

// write streams the request lines, flushed every 50 ms (a write per request would cost more than the request).
func (e *engine) write(out *output, done chan<- int64) {
	var written int64
	var line []byte
	flush := time.NewTicker(50 * time.Millisecond)
	defer flush.Stop()
	for {
		select {
		case r, ok := <-e.results:
			if !ok {
				done <- written
				return
			}
			line = appendLine(line[:0], r)
			out.Lock()
			out.w.Write(line)
			out.Unlock()
			written++
		case <-flush.C:
			out.Lock()
			out.w.Flush()
			out.Unlock()
		}
	}
}

// appendLine formats a request's line (strconv, not fmt: this runs thousands of times a second).
func appendLine(b []byte, r result) []byte {
	for _, n := range []int64{r.seq, r.scheduled, r.sent, r.latency, int64(r.status)} {
		b = strconv.AppendInt(b, n, 10)
		b = append(b, '\t')
	}
	for _, s := range []string{orDash(r.err), orDash(r.local), r.connection} {
		b = append(b, s...)
		b = append(b, '\t')
	}
	b = append(b, orDash(r.pod)...)
	return append(b, '\n')
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// listen answers the harness's commands; it sends the start instant once, and stops the schedule
// on "stop" or at the end of the input.
func (e *engine) listen(out *output, starts chan<- time.Time) {
	input := bufio.NewScanner(os.Stdin)
	started := false
	for input.Scan() {
		command, argument, _ := strings.Cut(strings.TrimSpace(input.Text()), " ")
		switch {
		case command == "clock":
			out.say("CLOCK %d", micros(time.Now()))
		case command == "start" && !started:
			at, err := strconv.ParseInt(argument, 10, 64)
			start := time.Now()
			if err == nil && at > 0 {
				start = time.UnixMicro(at)
			}
			started = true
			starts <- start
		case command == "stop":
			e.stopped.Store(true)
			if !started {
				close(starts)
			}
			return
		}
	}
	e.stopped.Store(true)
	if !started {
		close(starts)
	}
}

func main() {
	target := flag.String("url", "", "http://host:port/path to send GET requests to")
	rate := flag.Float64("rate", 100, "requests per second")
	count := flag.Int64("count", 100000, "requests to schedule at most")
	seconds := flag.Float64("seconds", 900, "seconds to schedule requests for at most")
	timeout := flag.Duration("timeout", 2*time.Second, "a request's time limit, connect to last byte")
	conns := flag.Int("keepalive", 0, "kept-alive connections (simulated clients); 0: a new connection per request")
	naming := flag.String("naming", "none", "how an answer names its pod: body, header:NAME, or none")
	flag.Parse()
	// The engine's live heap is small (requests in flight, a results queue): collecting it four
	// times less often costs a few MB and gives the CPU back to sending.
	debug.SetGCPercent(400)
	// Ctrl-C in a terminal reaches the whole process group: the harness stops the engine (with
	// "stop", or the end of its input) and keeps what it recorded, so the engine must outlive it.
	signal.Ignore(os.Interrupt)

	parsed, err := url.Parse(*target)
	if err != nil || parsed.Scheme != "http" || parsed.Host == "" {
		fmt.Fprintf(os.Stderr, "podlife-traffic: not a plain http URL: %q\n", *target)
		os.Exit(2)
	}
	if *rate <= 0 {
		fmt.Fprintf(os.Stderr, "podlife-traffic: the rate must be positive, not %g\n", *rate)
		os.Exit(2)
	}
	address := parsed.Host
	if parsed.Port() == "" {
		address = net.JoinHostPort(parsed.Hostname(), "80")
	}
	connection := "close"
	if *conns > 0 {
		connection = "keep-alive"
	}
	e := &engine{
		address: address,
		request: []byte(fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: %s\r\nUser-Agent: podlife\r\n\r\n",
			parsed.RequestURI(), parsed.Host, connection)),
		timeout: *timeout,
		results: make(chan result, 65536),
	}
	if *naming == "body" {
		e.naming = "body"
	} else if name, ok := strings.CutPrefix(*naming, "header:"); ok {
		e.naming, e.header = "header", name
	}

	out := &output{w: bufio.NewWriterSize(os.Stdout, 1<<16)}
	out.say("READY %d", micros(time.Now()))
	starts := make(chan time.Time, 1)
	go e.listen(out, starts)
	start, ok := <-starts
	if !ok {
		out.say("END 0 %d", cpuMicros())
		return
	}
	out.say("START %d", micros(start))
	done := make(chan int64)
	go e.write(out, done)
	var jobs chan job
	if *conns > 0 {
		jobs = make(chan job, 1<<20)
		for i := 0; i < *conns; i++ {
			go e.client(jobs)
		}
	}
	limit := time.Duration(*seconds * float64(time.Second))
	for seq := int64(0); seq < *count && !e.stopped.Load(); seq++ {
		offset := time.Duration(float64(seq) / *rate * float64(time.Second))
		if offset > limit {
			break
		}
		due := start.Add(offset)
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		e.inFlight.Add(1)
		if jobs != nil {
			jobs <- job{seq, due}
		} else {
			go e.once(seq, due)
		}
	}
	e.inFlight.Wait()
	if jobs != nil {
		close(jobs)
	}
	close(e.results)
	written := <-done
	out.say("END %d %d", written, cpuMicros())
}
