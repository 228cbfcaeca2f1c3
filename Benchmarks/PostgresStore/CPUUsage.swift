import Foundation

/// CPU time spent during a run, read from `/proc`: by this process (the relays), by the cluster's
/// PostgreSQL processes (children of its postmaster), and by the whole machine, so a run can say
/// whether it was bound by the CPU and by whose. Backends that exit during the run are missed;
/// the relays' pooled connections live through it.
struct CPUUsage {
    var relays: Double
    var postgres: Double
    /// Busy and total CPU time of all cores (`/proc/stat`).
    var machineBusy: Double
    var machineTotal: Double

    static let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// Now, for the cluster whose data directory is `dataDirectory`.
    static func sample(postgresDataDirectory dataDirectory: String) -> (CPUUsage, [Int32: Double]) {
        var perProcess: [Int32: Double] = [:]
        let postmaster = (try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8))?
            .split(separator: "\n").first.flatMap { Int32($0) }
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let (parent, seconds) = stat(pid) else { continue }
            if pid == postmaster || parent == postmaster { perProcess[pid] = seconds }
        }
        let own = stat(getpid())?.1 ?? 0
        var busy = 0.0
        var total = 0.0
        if let line = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8))?.split(separator: "\n").first {
            let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
            total = fields.reduce(0, +) / ticks
            // idle and iowait are the 4th and 5th fields.
            busy = total - (fields.count > 4 ? (fields[3] + fields[4]) / ticks : 0)
        }
        return (CPUUsage(relays: own, postgres: perProcess.values.reduce(0, +), machineBusy: busy, machineTotal: total), perProcess)
    }

    /// What was spent between `start` and now (processes that appeared meanwhile count whole).
    static func since(_ start: (CPUUsage, [Int32: Double]), postgresDataDirectory: String) -> CPUUsage {
        let (now, perProcess) = sample(postgresDataDirectory: postgresDataDirectory)
        let postgres = perProcess.reduce(0.0) { sum, entry in sum + entry.value - (start.1[entry.key] ?? 0) }
        return CPUUsage(
            relays: now.relays - start.0.relays, postgres: postgres,
            machineBusy: now.machineBusy - start.0.machineBusy, machineTotal: now.machineTotal - start.0.machineTotal
        )
    }

    /// `(ppid, utime + stime in seconds)` of a process.
    private static func stat(_ pid: Int32) -> (Int32, Double)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // After the command name: state ppid ... utime (14th field overall) stime (15th).
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let parent = Int32(fields[1]), let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (parent, (user + system) / ticks)
    }

    var json: [String: Double] {
        ["relays_s": relays, "postgres_s": postgres, "machine_busy_s": machineBusy, "machine_total_s": machineTotal]
    }

    /// "relays 1.2 s + PostgreSQL 2.3 s CPU per 10k events; machine 97 % busy".
    func summary(events: Int) -> String {
        let per = 10_000 / Double(max(1, events))
        return String(
            format: "CPU per 10k events: relays %.2f s, PostgreSQL %.2f s; machine %.0f %% busy (others %.0f %%)",
            relays * per, postgres * per, machineTotal > 0 ? machineBusy / machineTotal * 100 : 0,
            machineTotal > 0 ? max(0, machineBusy - relays - postgres) / machineTotal * 100 : 0
        )
    }
}
