// podlife-traffic: podlife's open-loop HTTP/1.1 traffic engine. Every request is scheduled at
// start + seq/rate, sent on time whatever the ones before it are doing (no coordinated omission),
// and written as one line to standard output within 50 ms of its end, so the harness streams the
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
// A request's line: seq, scheduled, sent (both µs since the epoch on this engine's clock), waited
// (µs it waited, when due, for a kept-alive client to be free: the pool's queue, which the app's
// answer time makes, not the engine's lateness), latency (µs), status (0 for none), error (- for
// none), the client's local address, the connection (new; reused, a kept-alive one; reopened, new
// because the server had closed the kept-alive one while it was idle; with ",close" when the answer
// closed it; reused,retried and retry, the two attempts of a request a kept connection was cut off
// under), and the pod the answer named (- for none), separated by tabs.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
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
	seq                     int64
	scheduled, sent, waited int64
	latency                 int64
	status                  int
	err, local, pod         string
	connection              string
}

type engine struct {
	address   string
	request   []byte
	timeout   time.Duration
	naming    string
	header    string
	rate      float64
	count     int64
	limit     time.Duration
	keepalive int
	// connections: the most open at once with a new connection per request (see loop.release).
	connections int
	stopped     atomic.Bool
	// chunks carries request lines from the event loop to standard output, a flush's worth at a time.
	chunks chan []byte
}

type job struct {
	seq       int64
	scheduled time.Time
	queued    time.Time // when it began to wait for a free client; zero if it did not
}

// retried marks the first attempt of a request a kept connection cut off, sent again on a new one.
const retried = "reused,retried"

func micros(t time.Time) int64 { return t.UnixMicro() }

// cpuMicros is the CPU time this process has used, user and system, in µs.
func cpuMicros() int64 {
	var usage syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &usage) != nil {
		return -1
	}
	return usage.Utime.Nano()/1000 + usage.Stime.Nano()/1000
}

// connectionBound is the most connections to one server the engine opens at once: three quarters
// of the ephemeral ports connect tries first (every other one of the range: it takes the rest only
// after scanning those), and fewer than the files the process may open.
func connectionBound() int {
	ports := 60999 - 32768 + 1 // Linux's default range
	if text, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if bounds := strings.Fields(string(text)); len(bounds) == 2 {
			low, errLow := strconv.Atoi(bounds[0])
			high, errHigh := strconv.Atoi(bounds[1])
			if errLow == nil && errHigh == nil && high >= low {
				ports = high - low + 1
			}
		}
	}
	bound := ports / 2 * 3 / 4
	var files syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &files) == nil && int(files.Cur)-64 < bound {
		bound = int(files.Cur) - 64
	}
	return max(bound, 16)
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
	case errors.Is(err, io.EOF):
		return "RemoteDisconnected"
	}
	return strings.ReplaceAll(strings.ReplaceAll(err.Error(), "\t", " "), "\n", " ")
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

// write streams the event loop's request lines to standard output as it hands them over.
func (e *engine) write(out *output, done chan<- struct{}) {
	for chunk := range e.chunks {
		out.Lock()
		out.w.Write(chunk)
		out.w.Flush()
		out.Unlock()
	}
	done <- struct{}{}
}

// appendLine formats a request's line (strconv, not fmt: this runs thousands of times a second).
func appendLine(b []byte, r result) []byte {
	for _, n := range []int64{r.seq, r.scheduled, r.sent, r.waited, r.latency, int64(r.status)} {
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
	open := flag.Int("connections", 0, "new connections open at most (0: from this host's ephemeral ports and file limit)")
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
		timeout:     *timeout,
		rate:        *rate,
		count:       *count,
		limit:       time.Duration(*seconds * float64(time.Second)),
		keepalive:   *conns,
		connections: *open,
		chunks:      make(chan []byte, 1024),
	}
	if e.connections <= 0 {
		e.connections = connectionBound()
	}
	if *naming == "body" {
		e.naming = "body"
	} else if name, ok := strings.CutPrefix(*naming, "header:"); ok {
		e.naming, e.header = "header", name
	}
	// One loop: a second one, on a second thread, cost more CPU a request and held a lower rate on
	// a 2-core machine, where the app's server needs the other core (bench/traffic.py, 2026-12-04).
	l, err := newLoop(e, *conns)
	if err != nil {
		fmt.Fprintf(os.Stderr, "podlife-traffic: %v\n", err)
		os.Exit(2)
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
	done := make(chan struct{})
	go e.write(out, done)
	l.run(start)
	close(e.chunks)
	<-done
	out.say("END %d %d", l.written, cpuMicros())
}
