#pragma once

#include <sys/types.h>

namespace rainbow::bench {

// CPU seconds (user + system) of a process and its reaped children, from /proc/<pid>/stat.
double CpuSeconds(pid_t pid);

// Peak resident set size (VmHWM) of a process in MB, from /proc/<pid>/status.
double PeakRssMb(pid_t pid);

}  // namespace rainbow::bench
