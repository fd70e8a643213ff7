// Package domain holds the types every part of keysweep shares and that
// belong to no provider: a key store's keys and their owners, an inventory,
// a run and its trigger, an audit record, keysweep's own state of a key,
// and the typed decisions and outcomes that the engine, the key-store
// adapters, the journals and the entry points pass between them.
//
// It imports nothing of AWS (nor of any other cloud): only the policy
// package, whose verdicts, modes and decisions the records carry. The words
// fit every key store: an "account" is an AWS account, a Huawei Cloud or
// Open Telekom Cloud domain, or a GMI Cloud organization; an "owner" is an
// IAM user (AWS, Huawei/OTC) or the person a GMI key belongs to.
package domain
