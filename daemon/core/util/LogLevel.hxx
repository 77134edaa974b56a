#pragma once

namespace popstream {

/**
 * How bad a log line is. The values are the syslog levels that sd-daemon(3) prefixes
 * and journald use, so that a sink can pass them on unchanged. Defined here, beside
 * ExitCode, because both the store and the fetch layer report through it; the core
 * itself never logs.
 */
enum class LogLevel { Error = 3, Warning = 4, Notice = 5, Info = 6, Debug = 7 };

} // namespace popstream
