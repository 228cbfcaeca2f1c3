import Foundation

/// The standard `process_*` metrics, read from `/proc/self` at scrape time (Linux).
struct ProcessMetrics {
    var cpuSeconds: Double
    var residentBytes: Double
    var virtualBytes: Double
    var startTimeSeconds: Double
    var openFDs: Double
    var maxFDs: Double

    struct Unavailable: Error, CustomStringConvertible {
        var description: String
    }

    static func read() throws -> ProcessMetrics {
        let stat = try String(contentsOfFile: "/proc/self/stat", encoding: .utf8)
        // Fields after the command name, which is in parentheses and may contain spaces.
        guard let close = stat.lastIndex(of: ")") else { throw Unavailable(description: "unreadable /proc/self/stat") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state): utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
        func field(_ number: Int) throws -> Double {
            guard fields.count > number - 3, let value = Double(fields[number - 3]) else {
                throw Unavailable(description: "/proc/self/stat has no field \(number)")
            }
            return value
        }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        let bootTime = try Self.bootTime()
        let openFDs = Double((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0)
        var limit = rlimit()
        let maxFDs = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Double(limit.rlim_cur) : 0
        return ProcessMetrics(
            cpuSeconds: (try field(14) + field(15)) / ticks,
            residentBytes: try field(24) * pageSize,
            virtualBytes: try field(23),
            startTimeSeconds: bootTime + (try field(22)) / ticks,
            openFDs: openFDs,
            maxFDs: maxFDs
        )
    }

    /// Boot time as Unix seconds: now minus the time since boot. (Not `/proc/stat`'s `btime`:
    /// the hardened unit's `ProcSubset=pid` hides `/proc/stat`.)
    private static func bootTime() throws -> Double {
        var boot = timespec()
        var real = timespec()
        guard clock_gettime(CLOCK_BOOTTIME, &boot) == 0, clock_gettime(CLOCK_REALTIME, &real) == 0 else {
            throw Unavailable(description: "clock_gettime failed: errno \(errno)")
        }
        return (Double(real.tv_sec) + Double(real.tv_nsec) / 1e9) - (Double(boot.tv_sec) + Double(boot.tv_nsec) / 1e9)
    }

    func write(into writer: inout PrometheusTextWriter) {
        writer.counterValue("process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds.", cpuSeconds)
        writer.gauge("process_resident_memory_bytes", help: "Resident memory size in bytes.", residentBytes)
        writer.gauge("process_virtual_memory_bytes", help: "Virtual memory size in bytes.", virtualBytes)
        writer.gauge("process_start_time_seconds", help: "Start time of the process since unix epoch in seconds.", startTimeSeconds)
        writer.gauge("process_open_fds", help: "Number of open file descriptors.", openFDs)
        writer.gauge("process_max_fds", help: "Maximum number of open file descriptors.", maxFDs)
    }
}

extension PrometheusTextWriter {
    mutating func counterValue(_ name: String, help: String, _ value: Double) {
        family(name, type: "counter", help: help)
        sample(name, [], value)
    }
}
