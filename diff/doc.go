// Package diff compares a desired object (what Git declares) with its live twin (what the API
// server stores) and says which fields drifted, who changed each one and when.
//
// It compares only the fields that Git declares, with the values the API server would store for
// them: a cheap local comparison runs first, and where values differ a server-side dry-run apply
// of the desired object (through the ServerDryRunner the caller supplies) decides, so defaulting,
// quantity and int-or-string normalisation, status, server-set metadata and other controllers'
// fields never show as drift. When the server refuses that merged object as invalid, the local
// comparison decides, and the fields say so in a note. Built-in kinds are read with client-go's
// compiled schema; custom resources and CRDs with the schema a SchemaSource gives (the server's
// published OpenAPI), else with one deduced from their values.
//
// Fields that Git does not declare are drift when an interactive field manager (a person:
// kubectl, k9s, a browser) wrote them and the API server would not have set them itself (a
// dry-run create of the desired object tells which fields it defaults), when a person changed a
// default (but not the defaults the server sets because of that change), and when the manager
// that applies Git's objects applied them from an earlier commit and applying Git now would remove
// them.
//
// Attribution comes from metadata.managedFields. Secret data and stringData values never leave
// this package unmasked. The package never writes to the cluster (dry runs only, through the
// caller) and never logs.
package diff
