// Objects addressed by (index, generation): connections, requests, child
// processes. A completion or a timer carries the handle it was armed with; a
// handle whose slot has been released (and perhaps reused) finds nothing, so
// a late event can never act on the slot's next tenant.
//
// Objects are allocated once per slot with `new T` (default-initialised, so a
// large receive buffer inside T is not touched until used) and reused in
// place: they never move, and pointers stay valid until the table dies.
// Releasing resets nothing of T; the owner resets what it needs when it
// acquires the slot again.
//
// A second release of the same tenant is a bug in the owner (the index would
// sit on the free list twice and two tenants would share one object). It
// fails loudly: abort in builds with assertions, an error line and no effect
// in release builds.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

namespace aigw::io {

struct SlotHandle {
  static constexpr uint32_t kNone = 0xFFFFFFFFu;
  uint32_t index = kNone;
  uint32_t generation = 0;

  // Names some slot; whether its tenant is still there is the table's to say.
  bool set() const { return index != kNone; }
  friend bool operator==(SlotHandle, SlotHandle) = default;
};

// Reports a release of a tenant that is not there. Out of line of the
// template so the message and policy live in one place.
[[gnu::cold]] inline void stale_release(const char* what, SlotHandle h) {
  std::fprintf(stderr, "aigw: bug: %s slot %u released twice (generation %u)\n", what, h.index,
               h.generation);
#ifndef NDEBUG
  std::abort();
#endif
}

template <class T>
class SlotTable {
 public:
  explicit SlotTable(const char* what) : what_(what) {}
  SlotTable(const SlotTable&) = delete;
  SlotTable& operator=(const SlotTable&) = delete;

  // A slot for a new tenant: a free one if any, else a new one.
  SlotHandle acquire() {
    uint32_t i;
    if (!free_.empty()) {
      i = free_.back();
      free_.pop_back();
    } else {
      i = static_cast<uint32_t>(slots_.size());
      slots_.push_back(Slot{std::unique_ptr<T>(new T), 0, false});
    }
    slots_[i].live = true;
    ++live_;
    return SlotHandle{i, slots_[i].generation};
  }

  // The tenant `h` names, or null when it has left.
  T* get(SlotHandle h) { return get(h.index, h.generation); }
  const T* get(SlotHandle h) const { return const_cast<SlotTable*>(this)->get(h); }
  T* get(uint32_t index, uint32_t generation) {
    if (index >= slots_.size()) return nullptr;
    Slot& s = slots_[index];
    return s.live && s.generation == generation ? s.obj.get() : nullptr;
  }

  // The handle of the tenant at `index`, or an unset one when the slot is free.
  SlotHandle current(uint32_t index) const {
    if (index >= slots_.size() || !slots_[index].live) return {};
    return SlotHandle{index, slots_[index].generation};
  }

  // The tenant leaves: every handle to it goes stale at once.
  void release(SlotHandle h) {
    if (h.index >= slots_.size() || !slots_[h.index].live || slots_[h.index].generation != h.generation) {
      stale_release(what_, h);
      return;
    }
    Slot& s = slots_[h.index];
    s.live = false;
    ++s.generation;
    free_.push_back(h.index);
    --live_;
  }

  size_t live() const { return live_; }
  size_t capacity() const { return slots_.size(); }

  // Calls f(handle, T&) for every tenant present when the call began; f may
  // release the tenant it is given.
  template <class F>
  void for_each(F&& f) {
    for (uint32_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].live) f(SlotHandle{i, slots_[i].generation}, *slots_[i].obj);
    }
  }

 private:
  struct Slot {
    std::unique_ptr<T> obj;
    uint32_t generation;
    bool live;
  };
  const char* what_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  size_t live_ = 0;
};

}  // namespace aigw::io
