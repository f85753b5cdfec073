// A persistent worker pool. Work is split into independent tasks that each write
// their own outputs, so results never depend on the thread count.
#pragma once
#include <functional>

namespace sp {

void set_threads(int n);
int get_threads();
// Runs fn(task) for task in [0, n). Called from inside a task, it runs serially.
void parallel_for(int n, const std::function<void(int)>& fn);

}  // namespace sp
