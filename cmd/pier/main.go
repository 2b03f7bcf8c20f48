// Command pier publishes and serves signed Linux package repositories.
//
//	pier serve   [--config FILE] [--data DIR] [--listen ADDR]
//	pier import  [--config FILE] [--data DIR] [--component C] STREAM/DISTRO/RELEASE FILE_OR_DIR...
//	pier publish [--config FILE] [--data DIR] STREAM/DISTRO/RELEASE
//	pier push    [--server URL] [--token T] [--component C] STREAM/DISTRO/RELEASE FILE_OR_DIR...
//	pier sync    [--config FILE] [--data DIR] [--verify] [MIRROR]
//	pier rm      [--config FILE] [--data DIR] STREAM/DISTRO/RELEASE NAME VERSION ARCH
//	pier token   create NAME --scope SCOPE... [--expires 90d] | list [--json] | revoke NAME
//	pier audit   [--config FILE] [--data DIR] [--target T] [--action A] [--limit N] [--json]
//	pier promote [--config FILE] [--data DIR] SRC DST --package NAME[=VERSION]...
//	pier generations [--config FILE] [--data DIR] [--json] TARGET
//	pier rollback [--config FILE] [--data DIR] TARGET GENERATION
//	pier prune   [--config FILE] [--data DIR] [--dry-run] [TARGET...]
//	pier pin     [--config FILE] [--data DIR] [--remove] TARGET [NAME=VERSION...]
//	pier gc      [--config FILE] [--data DIR] [--dry-run] [--grace D]
//	pier keys    list|generate|export|retire [--config FILE] [--data DIR] [FINGERPRINT]
//	pier targets [--config FILE] [--data DIR] [--json]
//	pier verify  [--config FILE] [--data DIR] [--deep] [TARGET...]
//
// All dependencies are wired here explicitly; nothing registers itself.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: pier <command> [flags] [args]

commands:
  serve     run the server (no config needed: data in ./pier-data, listens on 127.0.0.1:8080)
  import    add package files from local disk to a target, then publish it
  publish   publish a target now
  push      upload package files to a remote Pier
  sync      copy published repositories to the configured mirrors (--verify: check them)
  rm        remove a package from a target, then publish it
  token     create, list and revoke API tokens (create prints the token once, last line)
  audit     show who uploaded, deleted, published, promoted… what, when and from where
  promote   copy packages from one target to another (same blobs), then publish it
  generations  list a target's retained generations and what each changed
  rollback  republish a retained generation as a new generation
  prune     apply the retention rules now (--dry-run: show what would go)
  pin       keep versions from retention (--remove: unpin; no versions: list)
  gc        delete blobs no package or retained generation references
  keys      OpenPGP signing keys: list, generate, export, retire (key rotation)
  targets   list the targets: packages, current generation, publish state (pending, failed and why)
  verify    check the current generations as clients would: signatures, indexes, packages (--deep: hash every package)
  version   print the version

Run 'pier <command> -h' for a command's flags.
`

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr)
	case "import":
		err = cmdImport(ctx, args[1:], stdout, stderr)
	case "publish":
		err = cmdPublish(ctx, args[1:], stdout, stderr)
	case "push":
		err = cmdPush(ctx, args[1:], stdout, stderr)
	case "sync":
		err = cmdSync(ctx, args[1:], stdout, stderr)
	case "rm":
		err = cmdRm(ctx, args[1:], stdout, stderr)
	case "token":
		err = cmdToken(ctx, args[1:], stdout, stderr)
	case "audit":
		err = cmdAudit(ctx, args[1:], stdout, stderr)
	case "promote":
		err = cmdPromote(ctx, args[1:], stdout, stderr)
	case "generations":
		err = cmdGenerations(ctx, args[1:], stdout, stderr)
	case "rollback":
		err = cmdRollback(ctx, args[1:], stdout, stderr)
	case "prune":
		err = cmdPrune(ctx, args[1:], stdout, stderr)
	case "pin":
		err = cmdPin(ctx, args[1:], stdout, stderr)
	case "gc":
		err = cmdGC(ctx, args[1:], stdout, stderr)
	case "keys":
		err = cmdKeys(ctx, args[1:], stdout, stderr)
	case "targets":
		err = cmdTargets(ctx, args[1:], stdout, stderr)
	case "verify":
		err = cmdVerify(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "pier", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "pier: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if err != errSilent {
			fmt.Fprintln(stderr, "pier:", err)
		}
		return 1
	}
	return 0
}

// errSilent reports failure after the command already said why.
var errSilent = fmt.Errorf("failed")
