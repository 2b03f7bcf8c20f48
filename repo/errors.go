package repo

import "errors"

// Sentinel errors of the domain. The api package maps them to HTTP status
// codes; nothing else in repo knows about HTTP.
var (
	// ErrBadPackage marks an uploaded file that is not a valid package of the
	// target's format. Wrapping errors say what is wrong.
	ErrBadPackage = errors.New("bad package")
	// ErrConflict marks an upload whose name, version and architecture exist
	// in the target with different bytes.
	ErrConflict = errors.New("conflict")
	// ErrTooLarge marks an upload over the configured size limit.
	ErrTooLarge = errors.New("package too large")
	// ErrNotFound marks a target, package or file that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid marks a request with a malformed argument (a bad target name).
	ErrInvalid = errors.New("invalid argument")
)

// BadPackageError wraps ErrBadPackage with the reason a user needs.
type BadPackageError struct{ Reason string }

func (e *BadPackageError) Error() string { return "bad package: " + e.Reason }

// Unwrap returns ErrBadPackage.
func (e *BadPackageError) Unwrap() error { return ErrBadPackage }

// BadPackage returns an error wrapping ErrBadPackage with reason.
func BadPackage(reason string) error { return &BadPackageError{Reason: reason} }
