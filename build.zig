//! Builds libipc. Steps:
//!   zig build            libipc.so (linked with -z nodelete) and libipc.a in zig-out/lib, ipc.h in
//!                        zig-out/include, the tracker's helper zig-out/bin/libipc-tracker: all a
//!                        user of the library needs
//!   zig build test       Zig unit tests and the ipc.h test (header vs. implementation)
//!   zig build ctest      C tests using only ipc.h, each linked against the shared and the static library
//!   zig build helpers    the C programs the demo, the multi-process tests and the benchmarks run (zig-out/bin)
//!   zig build cross      compiles libipc for aarch64-linux, x86_64-macos, aarch64-macos, x86_64-windows
//!   zig build crashtest  builds libipc with its crash points (zig/crash.zig) into a static library of
//!                        its own and runs tests/c/crash.c: every point killed at, every invariant checked
//!   zig build fasttest   builds libipc.a with -O ReleaseFast (whatever -Doptimize says) and runs the
//!                        hostile-input C tests against it (test_corrupt, test_mutex_attack), and
//!                        installs zig-out/bin/ipc-fuzz-open-fast, which tests/mp/fuzz_open.ts runs beside
//!                        ipc-fuzz-open: damage must be an error code in both modes, where ReleaseSafe
//!                        would panic and ReleaseFast read or write out of bounds
//!
//! `-Dcrash_points=true` (default false) also installs that program, zig-out/bin/ipc-crash, to run one
//! point by hand. The crash points never reach libipc.so, libipc.a or the npm package: their calls
//! compile to nothing unless the root module is zig/crash_root.zig, which only the crash test uses.
//!
//! The shared library is linked by running `zig build-lib` directly because std.Build has no option
//! for `-z nodelete`, which libipc needs: Deno unloads FFI libraries at exit, and a library thread
//! still running then would crash the process (see DEVELOPERS.md).

const std = @import("std");

const c_flags = &.{ "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic" };

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    // ReleaseSafe by default: fast, and it keeps the assertions that guard internal invariants.
    const optimize = b.option(std.builtin.OptimizeMode, "optimize", "Optimization mode (default: ReleaseSafe)") orelse .ReleaseSafe;

    const test_step = b.step("test", "Run the Zig unit tests and the ipc.h test");
    const ctest_step = b.step("ctest", "Run the C tests against the shared and the static library");
    const helpers_step = b.step("helpers", "Build the C programs the demo, the multi-process tests and the benchmarks run");
    const cross_step = b.step("cross", "Compile libipc for aarch64-linux, x86_64-macos, aarch64-macos and x86_64-windows");
    const crash_step = b.step("crashtest", "Kill a process at every crash point of libipc and check what the files promise");
    const fast_step = b.step("fasttest", "Run the hostile-input C tests against a ReleaseFast libipc.a; install ipc-fuzz-open-fast");
    const crash_points = b.option(bool, "crash_points", "Also install zig-out/bin/ipc-crash, the crash-point driver (default false)") orelse false;

    const header = b.path("zig/ipc.h");
    b.getInstallStep().dependOn(&b.addInstallHeaderFile(header, "ipc.h").step);

    const shared = sharedLibrary(b, target, optimize);
    b.getInstallStep().dependOn(&b.addInstallLibFile(shared.path, shared.file_name).step);
    const static = staticLibrary(b, target, optimize);
    b.installArtifact(static);
    // The tracker's helper (zig/tracker.zig): a small program without libc, found by the library in
    // ../bin beside zig-out/lib.
    const tracker = trackerHelper(b, target, optimize);
    if (target.result.os.tag == .linux) b.installArtifact(tracker);

    // Zig unit tests live beside the code they test; root.zig pulls them all in.
    const core = b.createModule(.{
        .root_source_file = b.path("zig/root.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
    });
    const unit = b.addTest(.{ .root_module = core });
    test_step.dependOn(&alwaysRun(b, unit).step);

    // ipc.h against the implementation: the header is translated and compared symbol by symbol.
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
    // test_tracker gets the helper program as its argument.
    const c_tests = [_][]const u8{ "segment", "names", "errors", "mutex", "mutex_attack", "sync", "wake", "heap", "heap_callbacks", "chan", "tracker", "eintr", "stop", "corrupt" };
    for (c_tests) |name| {
        const source: []const []const u8 = &.{b.fmt("tests/c/test_{s}.c", .{name})};
        const dynamic = cProgram(b, b.fmt("test_{s}_shared", .{name}), source, target, optimize, .{ .shared = shared.path });
        const linked = cProgram(b, b.fmt("test_{s}_static", .{name}), source, target, optimize, .{ .static = static });
        for ([_]*std.Build.Step.Compile{ dynamic, linked }) |exe| {
            const run = alwaysRun(b, exe);
            if (std.mem.eql(u8, name, "tracker")) run.addArtifactArg(tracker);
            run.expectExitCode(0);
            ctest_step.dependOn(&run.step);
        }
    }

    // The hostile-input tests once more against libipc built with ReleaseFast, where a missed check
    // is no panic but a wild read or write: both modes must give the same error codes.
    const fast_static = staticLibrary(b, target, .ReleaseFast);
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
        .{ .name = "ipc-child", .sources = &.{ "tests/c/child.c", "tests/c/child_segment.c", "tests/c/child_mutex.c", "tests/c/child_sync.c", "tests/c/child_heap.c", "tests/c/child_chan.c", "tests/c/child_cleanup.c" } },
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
            .root_module = b.createModule(.{
                .root_source_file = b.path("zig/crash_root.zig"),
                .target = target,
                .optimize = optimize,
                .link_libc = true,
                .pic = true,
            }),
        });
        crash_lib.bundle_compiler_rt = true;
        const driver = cProgram(b, "ipc-crash", &.{"tests/c/crash.c"}, target, optimize, .{ .static = crash_lib });
        const run = b.addRunArtifact(driver);
        run.expectExitCode(0);
        run.has_side_effects = true;
        crash_step.dependOn(&run.step);
        if (crash_points) b.getInstallStep().dependOn(&b.addInstallArtifact(driver, .{}).step);
    }

    const cross_targets = [_][]const u8{ "aarch64-linux-gnu", "x86_64-macos", "aarch64-macos", "x86_64-windows-gnu" };
    for (cross_targets) |triple| {
        const query = std.Target.Query.parse(.{ .arch_os_abi = triple }) catch unreachable;
        const cross_target = b.resolveTargetQuery(query);
        const cross_static = staticLibrary(b, cross_target, optimize);
        const cross_shared = sharedLibrary(b, cross_target, optimize);
        const dir: std.Build.InstallDir = .{ .custom = b.fmt("cross/{s}", .{triple}) };
        cross_step.dependOn(&b.addInstallArtifact(cross_static, .{ .dest_dir = .{ .override = dir } }).step);
        cross_step.dependOn(&b.addInstallFileWithDir(cross_shared.path, dir, cross_shared.file_name).step);
    }
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

const Shared = struct { path: std.Build.LazyPath, file_name: []const u8 };

/// libipc as a shared library, linked by `zig build-lib` with `-z nodelete` on ELF targets and a
/// version script that exports only ipc_* symbols.
fn sharedLibrary(b: *std.Build, target: std.Build.ResolvedTarget, optimize: std.builtin.OptimizeMode) Shared {
    const t = target.result;
    const file_name = switch (t.os.tag) {
        .windows => "ipc.dll",
        .macos, .ios => "libipc.dylib",
        else => "libipc.so",
    };
    const run = b.addSystemCommand(&.{ b.graph.zig_exe, "build-lib", "-dynamic", "-lc", "--name", "ipc" });
    run.addArgs(&.{ "-O", @tagName(optimize) });
    if (!target.query.isNative()) {
        run.addArgs(&.{ "-target", t.zigTriple(b.allocator) catch @panic("OOM"), "-mcpu", "baseline" });
    }
    if (t.ofmt == .elf) {
        run.addArgs(&.{ "-z", "nodelete" });
        run.addArg("--version-script");
        run.addFileArg(b.path("zig/libipc.map"));
    }
    run.addArg("-fno-emit-h");
    const out = run.addPrefixedOutputFileArg("-femit-bin=", file_name);
    run.addFileArg(b.path("zig/root.zig"));
    // The command reads every Zig source; list them so the step reruns when one changes.
    addZigInputs(b, run, "zig");
    return .{ .path = out, .file_name = file_name };
}

fn addZigInputs(b: *std.Build, run: *std.Build.Step.Run, dir_path: []const u8) void {
    var dir = b.build_root.handle.openDir(dir_path, .{ .iterate = true }) catch @panic("cannot open zig/");
    defer dir.close();
    var walker = dir.walk(b.allocator) catch @panic("OOM");
    defer walker.deinit();
    while (walker.next() catch @panic("cannot walk zig/")) |entry| {
        if (entry.kind != .file) continue;
        run.addFileInput(b.path(b.pathJoin(&.{ dir_path, entry.path })));
    }
}

fn staticLibrary(b: *std.Build, target: std.Build.ResolvedTarget, optimize: std.builtin.OptimizeMode) *std.Build.Step.Compile {
    const lib = b.addLibrary(.{
        .name = "ipc",
        .linkage = .static,
        .root_module = b.createModule(.{
            .root_source_file = b.path("zig/root.zig"),
            .target = target,
            .optimize = optimize,
            .link_libc = true,
            .pic = true,
        }),
    });
    lib.bundle_compiler_rt = true;
    return lib;
}

fn trackerHelper(b: *std.Build, target: std.Build.ResolvedTarget, optimize: std.builtin.OptimizeMode) *std.Build.Step.Compile {
    return b.addExecutable(.{
        .name = "libipc-tracker",
        .root_module = b.createModule(.{
            .root_source_file = b.path("zig/tracker_helper.zig"),
            .target = target,
            .optimize = optimize,
            .single_threaded = true,
            .strip = true,
        }),
    });
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
        .static => |lib| exe.root_module.linkLibrary(lib),
    }
    return exe;
}
