package main

import (
	"context"

	"github.com/pierhq/pier/repo"
)

// lcAuditCLI records a lifecycle command in the audit log.
func lcAuditCLI(ctx context.Context, a *app, action string, t repo.Target, detail any) {
	a.log.Info("audit", "action", action, "target", t.String(), "detail", detail)
}
