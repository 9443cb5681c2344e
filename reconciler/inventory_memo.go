package reconciler

import (
	"context"
	"slices"
	"sync"
)

// memoInventory keeps what it loaded and saved in memory in front of another store: the
// controller is the only writer of its Sources' inventories, so after the first Load of a source
// every Load costs no request. A failed Save forgets the source, so the next Load reads the store.
type memoInventory struct {
	next InventoryStore
	mu   sync.Mutex
	byID map[string]Inventory
}

func newMemoInventory(next InventoryStore) *memoInventory {
	return &memoInventory{next: next, byID: map[string]Inventory{}}
}

// Load returns a copy of the remembered inventory, or loads it.
func (m *memoInventory) Load(ctx context.Context, source string) (*Inventory, error) {
	m.mu.Lock()
	inv, ok := m.byID[source]
	m.mu.Unlock()
	if ok {
		inv.Entries = slices.Clone(inv.Entries)
		return &inv, nil
	}
	loaded, err := m.next.Load(ctx, source)
	if err != nil {
		return nil, err
	}
	m.remember(loaded)
	return loaded, nil
}

// Save stores inv and remembers it.
func (m *memoInventory) Save(ctx context.Context, inv *Inventory) error {
	if err := m.next.Save(ctx, inv); err != nil {
		m.mu.Lock()
		delete(m.byID, inv.Source)
		m.mu.Unlock()
		return err
	}
	m.remember(inv)
	return nil
}

func (m *memoInventory) remember(inv *Inventory) {
	c := *inv
	c.Entries = slices.Clone(inv.Entries)
	m.mu.Lock()
	m.byID[inv.Source] = c
	m.mu.Unlock()
}

// Delete removes the source's inventory from the store and from memory.
func (m *memoInventory) Delete(ctx context.Context, source string) error {
	m.mu.Lock()
	delete(m.byID, source)
	m.mu.Unlock()
	return m.next.Delete(ctx, source)
}
