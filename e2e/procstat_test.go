package e2e

// What the kernel says about a running server process: its CPU time and memory, read from
// /proc, for the abuse tests (abuse_test.go), which bound what a request may cost the server
// itself rather than how long the client waited.

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clockTicksPerSecond is USER_HZ, the unit of utime and stime in /proc/PID/stat. It is 100 on
// every Linux architecture (it is part of the kernel's user-space ABI, whatever CONFIG_HZ is),
// so a CPU time read here is a multiple of 10 ms.
const clockTicksPerSecond = 100

// procCPU is the CPU time (user plus system) the process has used so far.
func procCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces: count from after it.
	s := string(raw)
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name in %q", pid, s)
	}
	fields := strings.Fields(s[end+1:])
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the command name", pid, len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %v", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicksPerSecond, nil
}

// procMemory is the process's resident set now (VmRSS) and at its peak so far (VmHWM), in
// bytes.
type procMemory struct {
	RSS, PeakRSS int64
}

func (m procMemory) String() string {
	return fmt.Sprintf("RSS %.1f MiB (peak %.1f MiB)", procMiB(m.RSS), procMiB(m.PeakRSS))
}

func procMiB(n int64) float64 { return float64(n) / (1 << 20) }

func readProcMemory(pid int) (procMemory, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMemory{}, err
	}
	var m procMemory
	found := 0
	for line := range strings.SplitSeq(string(raw), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.PeakRSS
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return procMemory{}, fmt.Errorf("/proc/%d/status: %s: %v", pid, line, err)
		}
		*dst = kb << 10
		found++
	}
	if found != 2 {
		return procMemory{}, fmt.Errorf("/proc/%d/status has no VmRSS and VmHWM", pid)
	}
	return m, nil
}

// CPU is the server's CPU time so far; it fails t if /proc cannot tell.
func (s *server) CPU(t testing.TB) time.Duration {
	t.Helper()
	d, err := procCPU(s.Pid)
	if err != nil {
		t.Fatalf("CPU time of the %s server: %v", s.Backend, err)
	}
	return d
}

// Memory is the server's resident memory now and at its peak; it fails t if /proc cannot
// tell.
func (s *server) Memory(t testing.TB) procMemory {
	t.Helper()
	m, err := readProcMemory(s.Pid)
	if err != nil {
		t.Fatalf("memory of the %s server: %v", s.Backend, err)
	}
	return m
}

// waitIdle waits until the server's CPU time stops growing: until it has grown by at most one
// clock tick over a whole window, polled every 50 ms. It returns the CPU time then, and false
// if the server was still busy when deadline passed.
func (s *server) waitIdle(t testing.TB, window, deadline time.Duration) (time.Duration, bool) {
	t.Helper()
	const tick = time.Second / clockTicksPerSecond
	type sample struct {
		at  time.Time
		cpu time.Duration
	}
	samples := []sample{{time.Now(), s.CPU(t)}}
	for end := time.Now().Add(deadline); ; {
		time.Sleep(50 * time.Millisecond)
		now := sample{time.Now(), s.CPU(t)}
		samples = append(samples, now)
		// The oldest sample at least a window old decides.
		for len(samples) > 2 && now.at.Sub(samples[1].at) >= window {
			samples = samples[1:]
		}
		if old := samples[0]; now.at.Sub(old.at) >= window && now.cpu-old.cpu <= tick {
			return now.cpu, true
		}
		if now.at.After(end) {
			return now.cpu, false
		}
	}
}
