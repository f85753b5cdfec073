// A persistent worker pool. Work is split into independent tasks that each write
// their own outputs, so results never depend on the thread count.
#pragma once
#include <functional>

namespace sp {

void set_threads(int n);
int get_threads();
// Runs fn(task) for task in [0, n). Called from inside a task, it runs serially.
void parallel_for(int n, const std::function<void(int)>& fn);

// parallel_for for tasks that stream neighbouring memory: each thread runs a contiguous share of the
// tasks in order (its reads form one stream the hardware prefetchers follow), then takes unstarted tasks
// from the far ends of the other shares, so a thread that starts late (waking from sleep) hands its
// share over instead of delaying the call.
void parallel_runs(int n, const std::function<void(int)>& fn);

}  // namespace sp
