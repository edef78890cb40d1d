// Whether a request wants a page or JSON. Browsers ask for text/html first; curl sends "*/*" and
// programs "application/json", and they keep getting the JSON the gateway always answered.
#ifndef TASKRING_HTTP_CONTENT_NEGOTIATION_H_
#define TASKRING_HTTP_CONTENT_NEGOTIATION_H_

#include <string_view>

namespace taskring::http {

// True when `accept` (the Accept header, "" when absent) ranks text/html strictly above
// application/json (which "*/*" stands for when it is not named). A tie answers JSON, so
// "*/*" and a missing header keep the JSON contract.
bool PrefersHtml(std::string_view accept);

}  // namespace taskring::http

#endif  // TASKRING_HTTP_CONTENT_NEGOTIATION_H_
