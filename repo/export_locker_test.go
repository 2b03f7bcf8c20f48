package repo

// CrashFileLocker closes l's lock files without unlocking (tests).
func CrashFileLocker(l *FileLocker) { l.closeAll() }
