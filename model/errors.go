package model

import "errors"

// ErrNoModel is wrapped by errors about a model store that holds no valid
// model.
var ErrNoModel = errors.New("no valid model")

// ErrUnknownVersion is wrapped by errors about a version the store does
// not hold as a valid model.
var ErrUnknownVersion = errors.New("no such model")

// ErrNothingToRollBack is wrapped by errors of a rollback with no promote
// left to undo.
var ErrNothingToRollBack = errors.New("no promote to roll back")
