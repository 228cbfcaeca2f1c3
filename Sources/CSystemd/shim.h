// libsystemd for Swift: sd-daemon (notify, listen fds, watchdog) and sd-journal (write, read).
#ifndef TETHER_CSYSTEMD_SHIM_H
#define TETHER_CSYSTEMD_SHIM_H

// Without this, sd_journal_sendv adds CODE_FILE/CODE_LINE/CODE_FUNC of this header to every
// entry; the Swift handler writes the caller's own location instead.
#define SD_JOURNAL_SUPPRESS_LOCATION 1

#include <sys/uio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#endif
