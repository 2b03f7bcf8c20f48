package audit

// TargetSnapshot is the making of a frozen snapshot target from another
// target's package set (repo.Service.Snapshot); its Target is the new
// target, its detail names the source.
const TargetSnapshot = "target.snapshot"
