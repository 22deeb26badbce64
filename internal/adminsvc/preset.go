package adminsvc

import (
	"context"
	"encoding/json"
	"math"
	"strconv"

	"github.com/shopspring/decimal"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/names"
	"github.com/hangar-run/hangar/internal/slots"
)

// ResourcePresetCreate is a new resource preset (create_resource_preset's input).
// ResourceSlots must give at least cpu and mem, all finite; SharedMemory is a binary size
// ("1g"), nil for none.
type ResourcePresetCreate struct {
	Name          string
	ResourceSlots map[string]string
	SharedMemory  *string
}

// ResourcePresetModify changes a resource preset: a nil ResourceSlots stays; SharedMemory
// changes only when SetSharedMemory, and a nil value then clears it.
type ResourcePresetModify struct {
	ResourceSlots   map[string]string
	SetSharedMemory bool
	SharedMemory    *string
}

const objPreset = "resource preset"

// presetSlots validates the resource slots of a preset: known slots, finite amounts, and at
// least cpu and mem.
func (s *Service) presetSlots(in map[string]string) (json.RawMessage, error) {
	raw, err := s.encodeSlots("resource_slots", in)
	if err != nil {
		return nil, err
	}
	var norm map[string]string
	if err := json.Unmarshal(raw, &norm); err != nil {
		return nil, err
	}
	for _, slot := range []string{"cpu", "mem"} {
		if _, ok := norm[slot]; !ok {
			k := "resource_slots." + slot
			return nil, invalid(k, "resource_slots: a preset must give "+slot, map[string]string{k: "required"})
		}
	}
	for slot, v := range norm {
		if v == slots.Infinity {
			k := "resource_slots." + slot
			return nil, invalid(k, "resource_slots: a preset cannot request an unlimited amount of "+slot, map[string]string{k: "must be finite"})
		}
	}
	return raw, nil
}

// presetSharedMemory parses the shared_memory of a preset: a finite binary size that fits
// in 64 bits.
func presetSharedMemory(v string) (int64, error) {
	d, err := slots.ParseBinarySize(v)
	if err == nil && d.GreaterThan(decimal.NewFromInt(math.MaxInt64)) {
		err = strconv.ErrRange
	}
	if err != nil {
		return 0, invalid("shared_memory", "shared_memory: "+err.Error(), map[string]string{"shared_memory": err.Error()})
	}
	return d.IntPart(), nil
}

// CreateResourcePreset creates a resource preset. Superadmins only.
func (s *Service) CreateResourcePreset(ctx context.Context, c Caller, in ResourcePresetCreate) (*dbsqlc.ResourcePreset, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := requireSuperadmin(c); err != nil {
		return nil, err
	}
	if err := checkName("name", in.Name, names.MaxLongName); err != nil {
		return nil, err
	}
	raw, err := s.presetSlots(in.ResourceSlots)
	if err != nil {
		return nil, err
	}
	params := &dbsqlc.ResourcePresetInsertParams{Name: in.Name, ResourceSlots: raw}
	if in.SharedMemory != nil {
		shm, err := presetSharedMemory(*in.SharedMemory)
		if err != nil {
			return nil, err
		}
		params.SharedMemory = &shm
	}
	row, err := db.Q.ResourcePresetInsert(ctx, s.d.Pool, params)
	if err != nil {
		return nil, fromDB(err, objPreset)
	}
	return row, nil
}

// ModifyResourcePreset changes the fields given of the resource preset name; resource_slots
// is replaced as a whole. Superadmins only.
func (s *Service) ModifyResourcePreset(ctx context.Context, c Caller, name string, in ResourcePresetModify) (*dbsqlc.ResourcePreset, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := requireSuperadmin(c); err != nil {
		return nil, err
	}
	params := &dbsqlc.ResourcePresetUpdateParams{Name: name, SetSharedMemory: in.SetSharedMemory}
	if in.ResourceSlots != nil {
		raw, err := s.presetSlots(in.ResourceSlots)
		if err != nil {
			return nil, err
		}
		params.ResourceSlots = raw
	}
	if in.SetSharedMemory && in.SharedMemory != nil {
		shm, err := presetSharedMemory(*in.SharedMemory)
		if err != nil {
			return nil, err
		}
		params.SharedMemory = &shm
	}
	row, err := db.Q.ResourcePresetUpdate(ctx, s.d.Pool, params)
	if err != nil {
		return nil, fromDB(err, objPreset)
	}
	return row, nil
}

// DeleteResourcePreset deletes the resource preset name. Superadmins only.
func (s *Service) DeleteResourcePreset(ctx context.Context, c Caller, name string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := requireSuperadmin(c); err != nil {
		return err
	}
	n, err := db.Q.ResourcePresetDelete(ctx, s.d.Pool, name)
	return deleted(n, err, objPreset)
}
