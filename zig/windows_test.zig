//! The root of the Windows platform tests (`zig build wintest`, run under Wine by scripts/wine.mjs):
//! only the Windows files and the owner-recording mutex, whose tests need no other process. The
//! root lives in zig/ so that the platform files may import ../abi.zig.

test {
    _ = @import("platform/windows.zig");
    _ = @import("platform/windows_wait.zig");
    _ = @import("platform/windows_names.zig");
    _ = @import("platform/owner_mutex.zig");
}
