//! The root of the macOS platform tests (`zig build mactest`, built for aarch64-macos and not run
//! here, where there is no macOS): the macOS files, the shared proxy pool and the owner-recording
//! mutex. The root lives in zig/ so that the platform files may import ../abi.zig.

test {
    _ = @import("platform/macos.zig");
    _ = @import("platform/macos_wait.zig");
    _ = @import("platform/macos_process.zig");
    _ = @import("platform/owner_mutex.zig");
}
