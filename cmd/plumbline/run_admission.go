package main

import (
	"context"
	"log/slog"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"

	"github.com/plumbline/plumbline/reconciler"
)

// addAdmissionFlags adds the flags of run that say who the managed-object guard of a Source
// with spec.prevent lets through.
func addAdmissionFlags(cmd *cobra.Command, g *guardFlags) { g.register(cmd) }

// admissionConfig learns the controller's own identity (its service account in a pod, else a
// SelfSubjectReview) and joins it with the flags. Without an identity a Source that turns
// prevent on reports it in its Prevented condition instead of guarding.
func admissionConfig(ctx context.Context, cfg *rest.Config, g *guardFlags, log *slog.Logger) reconciler.AdmissionConfig {
	id, err := reconciler.WhoAmI(ctx, cfg)
	if err != nil {
		log.Warn("admission: the controller's identity is unknown; spec.prevent will not guard", "err", err)
	} else {
		log.Info("admission: the guard lets the controller through", "user", id)
	}
	return g.config(id)
}
