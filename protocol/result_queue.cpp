#include "protocol/result_queue.h"

namespace pgrev::protocol {

// Compiled here once in full, warnings and all, whatever the users of the queue call.
template class BasicResultQueue<OpaquePayload>;

}  // namespace pgrev::protocol
