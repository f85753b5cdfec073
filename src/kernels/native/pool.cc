#include "pool.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SP_PAUSE() _mm_pause()
#else
#define SP_PAUSE() ((void)0)
#endif

namespace sp {
namespace {

thread_local bool in_task = false;

class Pool {
 public:
  ~Pool() { resize(1); }

  int size() const { return nthreads_; }

  void resize(int n) {
    if (n < 1) n = 1;
    stop_workers();
    nthreads_ = n;
    // Workers start from the current generation, so a run posted before a worker
    // first waits is still seen by it.
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, g = generation_.load()] { worker(g); });
  }

  void run(int n, const std::function<void(int)>& fn) {
    if (n <= 0) return;
    if (in_task || nthreads_ == 1 || n == 1) {
      for (int i = 0; i < n; ++i) fn(i);
      return;
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      fn_ = &fn;
      ntasks_ = n;
      next_.store(0);
      pending_.store(nthreads_ - 1);
      generation_.fetch_add(1);
    }
    cv_.notify_all();
    drain();
    // Decoding makes thousands of short calls a second: spin a little before sleeping on either side.
    if (!spin_until([this] { return pending_.load() == 0; })) {
      std::unique_lock<std::mutex> lk(mu_);
      done_cv_.wait(lk, [this] { return pending_.load() == 0; });
    }
    std::lock_guard<std::mutex> lk(mu_);
    fn_ = nullptr;
  }

 private:
  void drain() {
    in_task = true;
    for (int t = next_.fetch_add(1); t < ntasks_; t = next_.fetch_add(1)) (*fn_)(t);
    in_task = false;
  }

  // True if done() became true within about 50 µs of polling.
  template <class Done>
  static bool spin_until(Done done) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) return false;
      for (int i = 0; i < 64; ++i) SP_PAUSE();
    }
    return true;
  }

  void worker(unsigned long seen) {
    for (;;) {
      spin_until([&] { return quit_.load() || generation_.load() != seen; });
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return quit_.load() || generation_.load() != seen; });
        if (quit_) return;
        seen = generation_.load();
      }
      drain();
      std::lock_guard<std::mutex> lk(mu_);
      if (pending_.fetch_sub(1) == 1) done_cv_.notify_one();
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
    quit_ = false;
  }

  int nthreads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* fn_ = nullptr;
  int ntasks_ = 0;
  std::atomic<int> next_{0};
  std::atomic<int> pending_{0};
  std::atomic<unsigned long> generation_{0};
  std::atomic<bool> quit_{false};
};

Pool& pool() {
  static Pool* p = [] {
    auto* q = new Pool();
    unsigned hc = std::thread::hardware_concurrency();
    q->resize(hc ? static_cast<int>(hc) : 1);
    return q;
  }();
  return *p;
}

}  // namespace

void set_threads(int n) { pool().resize(n); }
int get_threads() { return pool().size(); }
void parallel_for(int n, const std::function<void(int)>& fn) { pool().run(n, fn); }

void parallel_runs(int n, const std::function<void(int)>& fn) {
  const int shares = std::min(n, get_threads());
  if (shares <= 1 || in_task) {
    for (int i = 0; i < n; ++i) fn(i);
    return;
  }
  // Share s holds the unclaimed tasks [first, end) as one word, (end << 32) | first, so that its owner
  // claiming from the front and others claiming from the back never take the same task.
  std::vector<std::atomic<uint64_t>> left(shares);
  for (int s = 0; s < shares; ++s)
    left[s].store((uint64_t)((long)n * (s + 1) / shares) << 32 | (uint64_t)((long)n * s / shares));
  auto claim = [&](int s, bool front) {
    uint64_t v = left[s].load();
    for (;;) {
      const uint32_t first = (uint32_t)v, end = (uint32_t)(v >> 32);
      if (first >= end) return -1;
      const uint64_t next = front ? (uint64_t)end << 32 | (first + 1) : (uint64_t)(end - 1) << 32 | first;
      if (left[s].compare_exchange_weak(v, next)) return (int)(front ? first : end - 1);
    }
  };
  pool().run(shares, [&](int s) {
    for (int i = claim(s, true); i >= 0; i = claim(s, true)) fn(i);
    for (int o = 1; o < shares; ++o)
      for (int i = claim((s + o) % shares, false); i >= 0; i = claim((s + o) % shares, false)) fn(i);
  });
}

}  // namespace sp
