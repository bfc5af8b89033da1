# The pipeline benchmark's work in jq, stage by stage as in pipeline.yaml:
#   jq -c -f pipeline.jq input.json
# jq's unique_by and group_by sort, so groups come out ordered by key (flowrun keeps the order
# of first appearance); compare results with their groups sorted.
map(select(.status == "paid" and .qty > 0)
    | {sku, country, amount: (.qty * .price), email: (.customer.email | ascii_downcase)})
| unique_by(.email + "|" + .sku)
| group_by(.country)
| map({key: .[0].country, total: (map(.amount) | add), orders: length})
