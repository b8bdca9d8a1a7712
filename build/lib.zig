//! The library's artifacts and where `zig build` installs them (build.zig declares the steps).
//!
//! Install layout under the prefix (zig-out, or `-p PREFIX`), the usual Unix one:
//!   lib/libipc.so.0.1.0          SONAME libipc.so.0, with the symlinks libipc.so.0 and libipc.so
//!   lib/libipc.a                 compiler_rt bundled, position-independent
//!   lib/pkgconfig/libipc.pc      prefix = the install prefix
//!   include/ipc.h
//!   libexec/libipc/libipc-tracker  the tracker's helper program (not for PATH)
//! The library looks for the helper relative to its own file (zig/tracker.zig `findHelper`), so the
//! whole prefix can move; a program linked with libipc.a also tries the path compiled into it
//! (`tracker_path` below), which is where this install put the helper.
//!
//! The shared library is linked by running `zig build-lib` directly because std.Build has no option
//! for `-z nodelete`, which libipc needs: Deno unloads FFI libraries at exit, and a library thread
//! still running then would crash the process (see DEVELOPERS.md).

const std = @import("std");

pub const version = "0.1.0";
pub const soname = "libipc.so.0";
/// Where the helper goes, relative to the prefix; zig/tracker.zig looks in `../libexec/libipc`
/// beside the library's directory.
pub const tracker_dir = "libexec/libipc";

pub const Config = struct {
    target: std.Build.ResolvedTarget,
    optimize: std.builtin.OptimizeMode,
    /// Omit debug information (the packaged and cross-compiled libraries).
    strip: bool,
    /// The helper's absolute path compiled into the library, tried after the paths relative to it;
    /// empty for libraries that are shipped elsewhere (packages: the helper lies beside them).
    tracker_path: []const u8,
    /// The `-Dmutex` choice; null: the target's default (`mutexKind`).
    mutex: ?MutexKind = null,
};

pub const MutexKind = enum { robust, owner };

/// The robust mutex protocol a target gets: the kernel-list one where glibc registers a list for
/// every thread, the owner-recording one elsewhere (musl registers its list only on a thread's first
/// robust pthread mutex, with another futex offset; macOS and Windows have none).
pub fn mutexKind(config: Config) MutexKind {
    if (config.mutex) |kind| return kind;
    const t = config.target.result;
    if (t.os.tag.isDarwin() or t.os.tag == .windows or t.abi.isMusl()) return .owner;
    return .robust;
}

/// The `build_options` module zig/tracker.zig (the helper's path) and zig/platform/root.zig (the
/// mutex protocol) import.
pub fn buildOptions(b: *std.Build, config: Config) *std.Build.Step.Options {
    const options = b.addOptions();
    options.addOption([]const u8, "tracker_path", config.tracker_path);
    options.addOption(MutexKind, "mutex", mutexKind(config));
    return options;
}

/// A module rooted at `root` (zig/root.zig or zig/crash_root.zig) with its `build_options`.
pub fn coreModule(b: *std.Build, root: []const u8, config: Config) *std.Build.Module {
    const module = b.createModule(.{
        .root_source_file = b.path(root),
        .target = config.target,
        .optimize = config.optimize,
        .link_libc = true,
        .pic = true,
        .strip = if (config.strip) true else null,
    });
    module.addOptions("build_options", buildOptions(b, config));
    return module;
}

pub const Shared = struct {
    /// Named by its SONAME on ELF targets (libipc.so.0), so that a program linked against it in the
    /// build cache (the C tests) finds it there through its rpath.
    path: std.Build.LazyPath,
    /// The installed name: libipc.so.0.1.0 on ELF targets, libipc.dylib and ipc.dll elsewhere.
    file_name: []const u8,
    elf: bool,
};

/// libipc as a shared library, linked by `zig build-lib` with `-z nodelete` on ELF targets, a
/// versioned SONAME and a version script that exports only ipc_* symbols.
pub fn sharedLibrary(b: *std.Build, config: Config) Shared {
    const t = config.target.result;
    const elf = t.ofmt == .elf;
    const file_name = switch (t.os.tag) {
        .windows => "ipc.dll",
        .macos, .ios => "libipc.dylib",
        else => "libipc.so." ++ version,
    };
    const run = b.addSystemCommand(&.{ b.graph.zig_exe, "build-lib", "-dynamic", "--name", "ipc" });
    if (elf) {
        run.addArgs(&.{ "-z", "nodelete", "-fsoname=" ++ soname });
        run.addArg("--version-script");
        run.addFileArg(b.path("zig/libipc.map"));
    }
    run.addArg("-fno-emit-h");
    const out = run.addPrefixedOutputFileArg("-femit-bin=", if (elf) soname else file_name);
    // Module flags (target, optimization, strip) come before each module they apply to.
    const module_flags = moduleFlags(b, config);
    run.addArgs(module_flags);
    run.addArgs(&.{ "-lc", "--dep", "build_options" });
    run.addPrefixedFileArg("-Mroot=", b.path("zig/root.zig"));
    run.addArgs(module_flags);
    run.addPrefixedFileArg("-Mbuild_options=", buildOptions(b, config).getOutput());
    // The command reads every Zig source; list them so the step reruns when one changes.
    addZigInputs(b, run, "zig");
    return .{ .path = out, .file_name = file_name, .elf = elf };
}

fn moduleFlags(b: *std.Build, config: Config) []const []const u8 {
    var flags: std.ArrayList([]const u8) = .empty;
    flags.appendSlice(b.allocator, &.{ "-O", @tagName(config.optimize) }) catch @panic("OOM");
    if (!config.target.query.isNative()) {
        const triple = config.target.query.zigTriple(b.allocator) catch @panic("OOM");
        flags.appendSlice(b.allocator, &.{ "-target", triple, "-mcpu", "baseline" }) catch @panic("OOM");
    }
    flags.append(b.allocator, if (config.strip) "-fstrip" else "-fno-strip") catch @panic("OOM");
    return flags.items;
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

pub fn staticLibrary(b: *std.Build, config: Config) *std.Build.Step.Compile {
    const lib = b.addLibrary(.{
        .name = "ipc",
        .linkage = .static,
        .root_module = coreModule(b, "zig/root.zig", config),
    });
    lib.bundle_compiler_rt = true;
    // A project that links this artifact (build.zig.zon dependency) gets ipc.h on its include path.
    lib.installHeader(b.path("zig/ipc.h"), "ipc.h");
    return lib;
}

/// The tracker's helper program: small, no libc, always stripped.
pub fn trackerHelper(b: *std.Build, config: Config) *std.Build.Step.Compile {
    const exe = b.addExecutable(.{
        .name = "libipc-tracker",
        .root_module = b.createModule(.{
            .root_source_file = b.path("zig/tracker_helper.zig"),
            .target = config.target,
            .optimize = config.optimize,
            .single_threaded = true,
            .strip = true,
        }),
    });
    exe.root_module.addOptions("build_options", buildOptions(b, config));
    return exe;
}

/// Installs the shared library under `dir` with its SONAME symlinks (ELF), returning the step.
pub fn installShared(b: *std.Build, shared: Shared, dir: std.Build.InstallDir) *std.Build.Step {
    const install = b.addInstallFileWithDir(shared.path, dir, shared.file_name);
    if (!shared.elf) return &install.step;
    const links = b.allocator.create(Symlinks) catch @panic("OOM");
    links.* = .{
        .step = std.Build.Step.init(.{ .id = .custom, .name = "symlink libipc.so.0, libipc.so", .owner = b, .makeFn = Symlinks.make }),
        .path = b.getInstallPath(dir, shared.file_name),
    };
    links.step.dependOn(&install.step);
    return &links.step;
}

const Symlinks = struct {
    step: std.Build.Step,
    path: []const u8,

    fn make(step: *std.Build.Step, _: std.Build.Step.MakeOptions) !void {
        const links: *Symlinks = @fieldParentPtr("step", step);
        try std.Build.Step.Compile.doAtomicSymLinks(step, links.path, soname, "libipc.so");
    }
};

/// lib/pkgconfig/libipc.pc for the install prefix `prefix` (absolute).
pub fn installPkgConfig(b: *std.Build, prefix: []const u8) *std.Build.Step {
    const text = b.fmt(
        \\prefix={s}
        \\exec_prefix=${{prefix}}
        \\libdir=${{exec_prefix}}/lib
        \\includedir=${{prefix}}/include
        \\libexecdir=${{exec_prefix}}/libexec
        \\tracker=${{libexecdir}}/libipc/libipc-tracker
        \\
        \\Name: libipc
        \\Description: Shared-memory IPC between processes: segments, robust locks, channels, a shared heap
        \\Version: {s}
        \\Libs: -L${{libdir}} -lipc
        \\Libs.private: -lpthread -ldl
        \\Cflags: -I${{includedir}}
        \\
    , .{ prefix, version });
    const files = b.addWriteFiles();
    const pc = files.add("libipc.pc", text);
    return &b.addInstallFileWithDir(pc, .lib, "pkgconfig/libipc.pc").step;
}

/// The absolute install prefix as the installed files will see it (`-p` may be relative; with
/// DESTDIR the prefix is where the files end up after the staging copy).
pub fn runtimePrefix(b: *std.Build) []const u8 {
    if (std.fs.path.isAbsolute(b.install_prefix)) return b.install_prefix;
    const cwd = std.process.getCwdAlloc(b.allocator) catch @panic("cannot read the current directory");
    return b.pathResolve(&.{ cwd, b.install_prefix });
}
