//! Builds libipc. Steps:
//!   zig build            installs what a user of the library needs (layout in build/lib.zig):
//!                        lib/libipc.so.0.1.0 (SONAME libipc.so.0, symlinks libipc.so.0 and libipc.so,
//!                        linked with -z nodelete), lib/libipc.a, lib/pkgconfig/libipc.pc,
//!                        include/ipc.h, libexec/libipc/libipc-tracker; `-p PREFIX` installs there
//!   zig build test       Zig unit tests and the ipc.h test (header vs. implementation)
//!   zig build ctest      C tests using only ipc.h, each linked against the shared and the static library
//!   zig build ctest-musl the C tests as static x86_64-linux-musl programs (owner-recording mutex), run here,
//!                        and a glibc and a musl process on one named mutex (tests/c/test_mixed_libc.c)
//!   zig build helpers    the C programs the demo, the multi-process tests and the benchmarks run (zig-out/bin)
//!   zig build cross      the shipped libraries: x86_64 and aarch64 Linux against glibc 2.28 and with
//!                        musl, x86_64-macos, aarch64-macos (with the tracker's helper beside the
//!                        Linux and macOS ones), x86_64-windows and aarch64-windows (built only: no
//!                        aarch64 runs here), in zig-out/cross/<target>/
//!   zig build wintest    the Windows test programs (tests/windows) and the portable C tests that
//!                        spawn their children through tests/c/proc.h (wine_c_tests) for
//!                        x86_64-windows-gnu, linked with libipc.a, into zig-out/wintest;
//!                        `node scripts/test.mjs wine` runs them under Wine
//!   zig build mactest    builds, without running (no macOS here), the C tests, the C child, the
//!                        tracker's helper and the platform layer's Zig tests for aarch64-macos into
//!                        zig-out/mactest; `cross` builds them too
//!   zig build arenalua   real Lua 5.4 (Debian's, fetched into .debs/ by scripts/debs.mjs) on heap arenas, killed -9
//!   zig build crashtest  builds libipc with its crash points (zig/crash.zig) into a static library of
//!                        its own and runs tests/c/crash.c: every point killed at, every invariant checked
//!   zig build fasttest   builds libipc.a with -O ReleaseFast (whatever -Doptimize says) and runs the
//!                        hostile-input C tests against it (test_corrupt, test_mutex_attack), and
//!                        installs zig-out/bin/ipc-fuzz-open-fast, which tests/mp/fuzz_open.ts runs beside
//!                        ipc-fuzz-open: damage must be an error code in both modes, where ReleaseSafe
//!                        would panic and ReleaseFast read or write out of bounds
//!
//! `-Dmutex=robust|owner` picks the robust mutex's protocol (zig/platform/root.zig): `robust` links
//! held locks into the kernel's robust list (the default with glibc), `owner` records the holder in the
//! lock and lets waiters judge it (the default on musl, macOS and Windows; on Linux with glibc, CI builds it
//! too: scripts/test.mjs step `owner`).
//!
//! Options: `-Dstrip=true` omits debug information from the libraries (packaging uses it);
//! `-Dtarget=x86_64-linux-gnu.2.28` builds everything against glibc 2.28 (the default is the host).
//! `-Dcrash_points=true` (default false) also installs the crash-point driver, zig-out/bin/ipc-crash,
//! to run one point by hand. The crash points never reach libipc.so, libipc.a or the npm package:
//! their calls compile to nothing unless the root module is zig/crash_root.zig, which only the crash
//! test uses.
//!
//! A project can depend on this repository from its build.zig.zon: `b.dependency("libipc", ...)`
//! gives the module "libipc" (zig/root.zig: the C API as Zig functions) and the artifact "ipc"
//! (libipc.a, with ipc.h on the include path of whatever links it).

const std = @import("std");
const lib = @import("build/lib.zig");

const c_flags = &.{ "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic" };

/// The shipped libraries (`zig build cross`, the npm platform packages): each directory name, and the
/// target it is built for. Linux builds against glibc 2.28 (Zig's versioned glibc stubs), so the
/// libraries load on Ubuntu 20.04, Debian 10 and RHEL 8 and later; `node scripts/glibc.mjs` checks it.
const cross_targets = [_]struct { dir: []const u8, triple: []const u8 }{
    .{ .dir = "x86_64-linux-gnu", .triple = "x86_64-linux-gnu.2.28" },
    .{ .dir = "aarch64-linux-gnu", .triple = "aarch64-linux-gnu.2.28" },
    .{ .dir = "x86_64-linux-musl", .triple = "x86_64-linux-musl" },
    .{ .dir = "aarch64-linux-musl", .triple = "aarch64-linux-musl" },
    .{ .dir = "x86_64-macos", .triple = "x86_64-macos" },
    .{ .dir = "aarch64-macos", .triple = "aarch64-macos" },
    .{ .dir = "x86_64-windows-gnu", .triple = "x86_64-windows-gnu" },
    .{ .dir = "aarch64-windows-gnu", .triple = "aarch64-windows-gnu" },
};

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    // ReleaseSafe by default: fast, and it keeps the assertions that guard internal invariants.
    const optimize = b.option(std.builtin.OptimizeMode, "optimize", "Optimization mode (default: ReleaseSafe)") orelse .ReleaseSafe;
    const strip = b.option(bool, "strip", "Omit debug information from the libraries (default false; packaging sets it)") orelse false;
    const crash_points = b.option(bool, "crash_points", "Also install zig-out/bin/ipc-crash, the crash-point driver (default false)") orelse false;

    const test_step = b.step("test", "Run the Zig unit tests and the ipc.h test");
    const ctest_step = b.step("ctest", "Run the C tests against the shared and the static library");
    const helpers_step = b.step("helpers", "Build the C programs the demo, the multi-process tests and the benchmarks run");
    const cross_step = b.step("cross", "Build the shipped libraries: Linux x86_64/aarch64 against glibc 2.28, macOS, Windows x86_64/aarch64");
    const mactest_step = b.step("mactest", "Build (not run) the C tests, the C child and the platform tests for aarch64-macos into zig-out/mactest");
    const wintest_step = b.step("wintest", "Build the Windows test programs (x86_64-windows-gnu) into zig-out/wintest; node scripts/test.mjs wine runs them");
    const crash_step = b.step("crashtest", "Kill a process at every crash point of libipc and check what the files promise");
    const arena_lua_step = b.step("arenalua", "Run real Lua 5.4 (Debian's liblua5.4-dev, fetched by scripts/debs.mjs) on heap arenas in child processes killed -9, 20 rounds");
    const fast_step = b.step("fasttest", "Run the hostile-input C tests against a ReleaseFast libipc.a; install ipc-fuzz-open-fast");
    const mutex_choice = b.option(lib.MutexKind, "mutex", "The robust mutex's protocol: robust (kernel robust list; default with glibc) or owner (owner-recording; default on musl and macOS)");

    // What `zig build` installs. The libraries know where the helper goes, for static links.
    const config: lib.Config = .{
        .target = target,
        .optimize = optimize,
        .strip = strip,
        .tracker_path = b.pathJoin(&.{ lib.runtimePrefix(b), lib.tracker_dir, "libipc-tracker" }),
        .mutex = mutex_choice,
    };
    const install = b.getInstallStep();
    install.dependOn(&b.addInstallHeaderFile(b.path("zig/ipc.h"), "ipc.h").step);
    const shared = lib.sharedLibrary(b, config);
    install.dependOn(lib.installShared(b, shared, .lib));
    const static = lib.staticLibrary(b, config);
    install.dependOn(&b.addInstallArtifact(static, .{ .h_dir = .disabled }).step);
    install.dependOn(lib.installPkgConfig(b, lib.runtimePrefix(b)));
    const tracker = lib.trackerHelper(b, config);
    if (target.result.os.tag == .linux) {
        const dir: std.Build.InstallDir = .{ .custom = lib.tracker_dir };
        install.dependOn(&b.addInstallArtifact(tracker, .{ .dest_dir = .{ .override = dir } }).step);
    }

    // For projects that depend on this one (build.zig.zon): the Zig module and, through
    // `dependency.artifact("ipc")`, the static library.
    _ = b.addModule("libipc", .{
        .root_source_file = b.path("zig/root.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
        .imports = &.{.{ .name = "build_options", .module = lib.buildOptions(b, config).createModule() }},
    });

    // Zig unit tests live beside the code they test; root.zig pulls them all in.
    const core = lib.coreModule(b, "zig/root.zig", config);
    const unit = b.addTest(.{ .root_module = core });
    test_step.dependOn(&alwaysRun(b, unit).step);

    // ipc.h against the implementation: the header is translated and compared symbol by symbol.
    const header = b.path("zig/ipc.h");
    const translated = b.addTranslateC(.{
        .root_source_file = header,
        .target = target,
        .optimize = optimize,
        .link_libc = true,
    });
    const header_test = b.addTest(.{
        .name = "ipc_h_test",
        .root_module = b.createModule(.{
            .root_source_file = b.path("zig/ipc_h_test.zig"),
            .target = target,
            .optimize = optimize,
            .link_libc = true,
            .imports = &.{
                .{ .name = "ipc_h", .module = translated.createModule() },
                .{ .name = "libipc", .module = core },
            },
        }),
    });
    test_step.dependOn(&alwaysRun(b, header_test).step);

    // C tests: each program links once against libipc.so and once against libipc.a.
    cTests(b, ctest_step, target, optimize, static, shared.path, tracker);
    arenaLua(b, arena_lua_step, target, optimize, static);

    // The same C tests as static musl programs (musl's libc linked in), which run on any x86_64
    // Linux, this glibc machine included.
    const musl_target = b.resolveTargetQuery(std.Target.Query.parse(.{ .arch_os_abi = "x86_64-linux-musl" }) catch unreachable);
    const musl_step = b.step("ctest-musl", "Run the C tests as static x86_64-linux-musl programs");
    var musl_config = config;
    musl_config.target = musl_target;
    const musl_static = lib.staticLibrary(b, musl_config);
    cTests(b, musl_step, musl_target, optimize, musl_static, null, lib.trackerHelper(b, musl_config));
    // A host (glibc) process and a musl one on one named mutex, each as the parent of the other: with
    // different lock protocols (the defaults) the mutex is refused with IPC_ENOTSUP, with the same one
    // (-Dmutex=owner) it is shared (tests/c/test_mixed_libc.c).
    const mixed_source: []const []const u8 = &.{"tests/c/test_mixed_libc.c"};
    const mixed_host = cProgram(b, "test_mixed_libc", mixed_source, target, optimize, .{ .static = static });
    const mixed_musl = cProgram(b, "test_mixed_libc_musl", mixed_source, musl_target, optimize, .{ .static = musl_static });
    const mixed_mode = if (lib.mutexKind(config) == lib.mutexKind(musl_config)) "share" else "refuse";
    for ([_][2]*std.Build.Step.Compile{ .{ mixed_host, mixed_musl }, .{ mixed_musl, mixed_host } }) |pair| {
        const run = alwaysRun(b, pair[0]);
        run.addArg("parent");
        run.addArtifactArg(pair[1]);
        run.addArg(mixed_mode);
        run.expectExitCode(0);
        musl_step.dependOn(&run.step);
    }

    // The hostile-input tests once more against libipc built with ReleaseFast, where a missed check
    // is no panic but a wild read or write: both modes must give the same error codes.
    var fast_config = config;
    fast_config.optimize = .ReleaseFast;
    const fast_static = lib.staticLibrary(b, fast_config);
    for ([_][]const u8{ "corrupt", "mutex_attack" }) |name| {
        const source: []const []const u8 = &.{b.fmt("tests/c/test_{s}.c", .{name})};
        const exe = cProgram(b, b.fmt("test_{s}_fast", .{name}), source, target, .ReleaseFast, .{ .static = fast_static });
        const run = alwaysRun(b, exe);
        run.expectExitCode(0);
        fast_step.dependOn(&run.step);
    }
    const fuzz_fast = cProgram(b, "ipc-fuzz-open-fast", &.{"tests/c/fuzz_open.c"}, target, .ReleaseFast, .{ .static = fast_static });
    fast_step.dependOn(&b.addInstallArtifact(fuzz_fast, .{}).step);

    // Programs the demo, the multi-process tests and the benchmarks spawn.
    const helpers = [_]struct { name: []const u8, sources: []const []const u8 }{
        .{ .name = "ipc-demo", .sources = &.{ "demo/main.c", "demo/segment.c", "demo/mutex.c", "demo/sync.c", "demo/heap.c", "demo/chan.c" } },
        .{ .name = "ipc-child", .sources = child_sources },
        .{ .name = "ipc-fuzz-open", .sources = &.{"tests/c/fuzz_open.c"} },
        .{ .name = "ipc-bench-segment", .sources = &.{"bench/segment.c"} },
        .{ .name = "ipc-bench-mutex", .sources = &.{"bench/mutex.c"} },
        .{ .name = "ipc-bench-sync", .sources = &.{"bench/sync.c"} },
        .{ .name = "ipc-bench-heap", .sources = &.{"bench/heap.c"} },
        .{ .name = "ipc-bench-chan", .sources = &.{"bench/chan.c"} },
    };
    for (helpers) |helper| {
        const exe = cProgram(b, helper.name, helper.sources, target, optimize, .{ .static = static });
        helpers_step.dependOn(&b.addInstallArtifact(exe, .{}).step);
    }

    // The crash test: libipc built from zig/crash_root.zig (crash points compiled in) and the driver
    // linked against it. The driver finds itself through /proc/self/exe to run its children.
    if (target.result.os.tag == .linux) {
        const crash_lib = b.addLibrary(.{
            .name = "ipc-crash",
            .linkage = .static,
            .root_module = lib.coreModule(b, "zig/crash_root.zig", config),
        });
        crash_lib.bundle_compiler_rt = true;
        const driver = cProgram(b, "ipc-crash", &.{"tests/c/crash.c"}, target, optimize, .{ .static = crash_lib });
        const run = b.addRunArtifact(driver);
        run.expectExitCode(0);
        run.has_side_effects = true;
        crash_step.dependOn(&run.step);
        if (crash_points) b.getInstallStep().dependOn(&b.addInstallArtifact(driver, .{}).step);
    }

    // The Windows backend's test program, run under Wine by scripts/test.mjs (a Zig run step cannot
    // find Debian's wine64, which lives outside PATH in /usr/lib/wine).
    const windows_target = b.resolveTargetQuery(std.Target.Query.parse(.{ .arch_os_abi = "x86_64-windows-gnu" }) catch unreachable);
    var windows_config = config;
    windows_config.target = windows_target;
    windows_config.tracker_path = "";
    const windows_static = lib.staticLibrary(b, windows_config);
    const wintest_dir: std.Build.InstallDir = .{ .custom = "wintest" };
    const windows_programs = [_]struct { name: []const u8, sources: []const []const u8 }{
        .{ .name = "test_windows", .sources = &.{"tests/windows/test_windows.c"} },
        // The portable handoff test, with the C child's segment commands (tests/c/child.c builds
        // only those on Windows) beside it: wine.mjs runs test_*.exe, and test_handoff finds
        // ipc-child.exe in its own directory.
        .{ .name = "test_handoff", .sources = &.{"tests/c/test_handoff.c"} },
        .{ .name = "ipc-child", .sources = &.{ "tests/c/child.c", "tests/c/child_segment.c" } },
        // The Windows rows of the bench (bench/run.ts, group "windows"), run under Wine.
        .{ .name = "ipc-bench-windows", .sources = &.{"bench/windows.c"} },
    };
    for (windows_programs) |program| {
        const exe = cProgram(b, program.name, program.sources, windows_target, optimize, .{ .static = windows_static });
        wintest_step.dependOn(&b.addInstallArtifact(exe, .{ .dest_dir = .{ .override = wintest_dir } }).step);
    }
    // The portable C tests (tests/c) whose children are this program run again (tests/c/proc.h).
    for (wine_c_tests) |name| {
        const exe = cProgram(b, b.fmt("test_{s}", .{name}), &.{b.fmt("tests/c/test_{s}.c", .{name})}, windows_target, optimize, .{ .static = windows_static });
        wintest_step.dependOn(&b.addInstallArtifact(exe, .{ .dest_dir = .{ .override = .{ .custom = "wintest" } } }).step);
    }
    // The platform layer's own Zig unit tests, built for Windows (zig/platform/windows*.zig).
    const windows_core = b.createModule(.{
        .root_source_file = b.path("zig/windows_test.zig"),
        .target = windows_target,
        .optimize = optimize,
        .link_libc = true,
    });
    windows_core.addOptions("build_options", lib.buildOptions(b, windows_config));
    const windows_unit = b.addTest(.{ .name = "zig_platform_tests", .root_module = windows_core });
    wintest_step.dependOn(&b.addInstallArtifact(windows_unit, .{ .dest_dir = .{ .override = .{ .custom = "wintest" } } }).step);

    // macOS: built, not run (no macOS machine here). The C tests, the C child and the platform
    // layer's Zig tests for aarch64-macos, linked against libipc.a, into zig-out/mactest; `cross`
    // builds them too, so a macOS-only compile error cannot land unseen.
    const macos_target = b.resolveTargetQuery(std.Target.Query.parse(.{ .arch_os_abi = "aarch64-macos" }) catch unreachable);
    var macos_config = config;
    macos_config.target = macos_target;
    macos_config.tracker_path = "";
    macos_config.mutex = null;
    const macos_static = lib.staticLibrary(b, macos_config);
    const mactest_dir: std.Build.InstallDir = .{ .custom = "mactest" };
    const mac_programs = [_]struct { name: []const u8, sources: []const []const u8 }{
        .{ .name = "ipc-child", .sources = helpers[1].sources },
    };
    outer: for (c_test_names) |name| {
        for (linux_bound_c_tests) |bound| {
            if (std.mem.eql(u8, name, bound)) continue :outer;
        }
        const exe = cProgram(b, b.fmt("test_{s}", .{name}), &.{b.fmt("tests/c/test_{s}.c", .{name})}, macos_target, optimize, .{ .static = macos_static });
        mactest_step.dependOn(&b.addInstallArtifact(exe, .{ .dest_dir = .{ .override = mactest_dir } }).step);
    }
    for (mac_programs) |program| {
        const exe = cProgram(b, program.name, program.sources, macos_target, optimize, .{ .static = macos_static });
        mactest_step.dependOn(&b.addInstallArtifact(exe, .{ .dest_dir = .{ .override = mactest_dir } }).step);
    }
    mactest_step.dependOn(&b.addInstallArtifact(lib.trackerHelper(b, macos_config), .{ .dest_dir = .{ .override = mactest_dir } }).step);
    const macos_core = b.createModule(.{
        .root_source_file = b.path("zig/macos_test.zig"),
        .target = macos_target,
        .optimize = optimize,
        .link_libc = true,
    });
    macos_core.addOptions("build_options", lib.buildOptions(b, macos_config));
    const macos_unit = b.addTest(.{ .name = "zig_platform_tests", .root_module = macos_core });
    mactest_step.dependOn(&b.addInstallArtifact(macos_unit, .{ .dest_dir = .{ .override = mactest_dir } }).step);
    cross_step.dependOn(mactest_step);

    // The shipped libraries: no compiled-in helper path (the packages put the helper beside them).
    for (cross_targets) |cross| {
        const query = std.Target.Query.parse(.{ .arch_os_abi = cross.triple }) catch unreachable;
        const cross_config: lib.Config = .{ .target = b.resolveTargetQuery(query), .optimize = optimize, .strip = strip, .tracker_path = "", .mutex = mutex_choice };
        const dir: std.Build.InstallDir = .{ .custom = b.fmt("cross/{s}", .{cross.dir}) };
        const cross_static = lib.staticLibrary(b, cross_config);
        cross_step.dependOn(&b.addInstallArtifact(cross_static, .{ .dest_dir = .{ .override = dir }, .h_dir = .disabled }).step);
        cross_step.dependOn(lib.installShared(b, lib.sharedLibrary(b, cross_config), dir));
        if (cross_config.target.result.os.tag == .linux or cross_config.target.result.os.tag == .macos) {
            const helper = lib.trackerHelper(b, cross_config);
            cross_step.dependOn(&b.addInstallArtifact(helper, .{ .dest_dir = .{ .override = dir } }).step);
        }
    }
}

/// The C tests, tests/c/test_<name>.c.
const c_test_names = [_][]const u8{ "segment", "names", "errors", "mutex", "mutex_attack", "sync", "wake", "heap", "heap_callbacks", "heap_arena", "chan", "tracker", "eintr", "stop", "corrupt", "handoff" };

/// The sources of ipc-child, the C child of the multi-process tests and of test_handoff.
const child_sources: []const []const u8 = &.{ "tests/c/child.c", "tests/c/child_segment.c", "tests/c/child_mutex.c", "tests/c/child_sync.c", "tests/c/child_heap.c", "tests/c/child_chan.c", "tests/c/child_cleanup.c" };

/// The C tests built for x86_64-windows-gnu into zig-out/wintest and run under Wine (scripts/wine.mjs):
/// those whose child processes go through tests/c/proc.h (this program run again in a role, on a
/// segment opened by name) rather than fork, and those with one process and nothing POSIX (names,
/// errors); handoff is built beside the C child above. Not here (DEVELOPERS.md, Windows): wake, eintr
/// and mutex_attack (Linux itself), tracker (a helper Windows needs not).
const wine_c_tests = [_][]const u8{ "segment", "names", "errors", "mutex", "chan", "sync", "heap", "heap_callbacks", "heap_arena", "stop", "corrupt" };

/// The C tests that still reach past ipc.h into Linux itself, so mactest leaves them out: wake and
/// eintr find parked threads by raw futex syscalls and gettid (tests/c/parked.h), mutex_attack
/// compares with a robust pthread mutex (macOS has none). (sync and chan use parked.h on Linux only,
/// heap its prctl.)
const linux_bound_c_tests = [_][]const u8{ "wake", "eintr", "mutex_attack" };

/// The C tests (tests/c/test_*.c), each linked against the static library and, when `shared` is
/// given, also against the shared one. test_tracker gets the helper program as its argument,
/// test_handoff the C child (built here for `target`).
fn cTests(
    b: *std.Build,
    step: *std.Build.Step,
    target: std.Build.ResolvedTarget,
    optimize: std.builtin.OptimizeMode,
    static: *std.Build.Step.Compile,
    shared: ?std.Build.LazyPath,
    tracker: *std.Build.Step.Compile,
) void {
    const c_tests = c_test_names;
    const child = cProgram(b, "ipc-child", child_sources, target, optimize, .{ .static = static });
    const suffix = if (target.result.abi.isMusl()) "_musl" else "";
    for (c_tests) |name| {
        const source: []const []const u8 = &.{b.fmt("tests/c/test_{s}.c", .{name})};
        var programs: [2]*std.Build.Step.Compile = undefined;
        var count: usize = 0;
        programs[count] = cProgram(b, b.fmt("test_{s}_static{s}", .{ name, suffix }), source, target, optimize, .{ .static = static });
        count += 1;
        if (shared) |path| {
            programs[count] = cProgram(b, b.fmt("test_{s}_shared", .{name}), source, target, optimize, .{ .shared = path });
            count += 1;
        }
        for (programs[0..count]) |exe| {
            const run = alwaysRun(b, exe);
            if (std.mem.eql(u8, name, "tracker")) run.addArtifactArg(tracker);
            if (std.mem.eql(u8, name, "handoff")) run.addArtifactArg(child);
            run.expectExitCode(0);
            step.dependOn(&run.step);
        }
    }
}

/// The arena acceptance test (tests/c/arena_lua.c) against Debian's static Lua 5.4. The package is
/// fetched and unpacked into .debs/root first (scripts/debs.mjs, apt-get download + dpkg-deb -x,
/// nothing installed): when that cannot be done, the step fails with debs.mjs's reason.
fn arenaLua(
    b: *std.Build,
    step: *std.Build.Step,
    target: std.Build.ResolvedTarget,
    optimize: std.builtin.OptimizeMode,
    static: *std.Build.Step.Compile,
) void {
    const fetch = b.addSystemCommand(&.{ "node", "scripts/debs.mjs", "liblua5.4-dev" });
    fetch.setName("fetch Debian's liblua5.4-dev into .debs/root (node scripts/debs.mjs; needs apt-get and dpkg-deb)");
    fetch.has_side_effects = true;
    fetch.expectExitCode(0);
    const triplet = b.fmt("{s}-linux-gnu", .{@tagName(target.result.cpu.arch)});
    const exe = cProgram(b, "arena_lua", &.{"tests/c/arena_lua.c"}, target, optimize, .{ .static = static });
    exe.root_module.addIncludePath(b.path(".debs/root/usr/include/lua5.4"));
    exe.root_module.addIncludePath(b.path(b.fmt(".debs/root/usr/include/{s}", .{triplet})));
    exe.root_module.addObjectFile(b.path(b.fmt(".debs/root/usr/lib/{s}/liblua5.4.a", .{triplet})));
    exe.root_module.linkSystemLibrary("m", .{});
    exe.step.dependOn(&fetch.step);
    const run = alwaysRun(b, exe);
    run.expectExitCode(0);
    step.dependOn(&run.step);
}

/// Runs a test program on every invocation of its step. Zig caches a run step that has no side
/// effects (a test's, or one with `expectExitCode`) when its inputs are unchanged: on an unchanged
/// tree `zig build ctest` would then pass without running a single test, and a test that fails only
/// sometimes (a race) would never be run again.
fn alwaysRun(b: *std.Build, exe: *std.Build.Step.Compile) *std.Build.Step.Run {
    const run = b.addRunArtifact(exe);
    run.has_side_effects = true;
    return run;
}

const Link = union(enum) { shared: std.Build.LazyPath, static: *std.Build.Step.Compile };

/// A C program that includes only ipc.h and links libipc one way or the other.
fn cProgram(
    b: *std.Build,
    name: []const u8,
    sources: []const []const u8,
    target: std.Build.ResolvedTarget,
    optimize: std.builtin.OptimizeMode,
    link: Link,
) *std.Build.Step.Compile {
    const exe = b.addExecutable(.{
        .name = name,
        .root_module = b.createModule(.{ .target = target, .optimize = optimize, .link_libc = true }),
    });
    for (sources) |source| exe.root_module.addCSourceFile(.{ .file = b.path(source), .flags = c_flags });
    exe.root_module.addIncludePath(b.path("zig"));
    switch (link) {
        .shared => |path| {
            exe.root_module.addObjectFile(path);
            exe.root_module.addRPath(path.dirname());
        },
        .static => |archive| exe.root_module.linkLibrary(archive),
    }
    return exe;
}
