//go:build !linux

package statedb

import bolt "go.etcd.io/bbolt"

// dropPages does nothing where it is not known to be safe (see the
// Linux version).
func dropPages(db *bolt.DB, tx *bolt.Tx) {}
