#include "audit/plan_template.h"

#include <algorithm>

namespace pgrev::audit {

namespace {

bool can_be_template(const RewritePlan& plan) {
    if (!plan.literal_blind || plan.changes_catalog || !plan.new_children.empty() ||
        !plan.unknown_tables.empty()) {
        return false;
    }
    if (plan.action != RewritePlan::Action::Forward &&
        plan.action != RewritePlan::Action::Rewrite) {
        return false;
    }
    return std::all_of(plan.statements.begin(), plan.statements.end(),
                       [](const StatementPlan& st) { return st.prepared_op == PreparedOp::None; });
}

// Adds a piece, joined to the last one when it continues it in both texts.
void add_piece(std::vector<SourcePiece>& pieces, SourcePiece piece) {
    if (piece.length == 0) return;
    if (!pieces.empty()) {
        SourcePiece& last = pieces.back();
        if (last.out_begin + last.length == piece.out_begin &&
            last.source_begin + last.length == piece.source_begin) {
            last.length += piece.length;
            return;
        }
    }
    pieces.push_back(piece);
}

std::vector<SourcePiece> joined(const std::vector<SourcePiece>& pieces) {
    std::vector<SourcePiece> out;
    for (const auto& p : pieces)
        add_piece(out, p);
    return out;
}

bool same_pieces(const std::vector<SourcePiece>& a, const std::vector<SourcePiece>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](const SourcePiece& x, const SourcePiece& y) {
                          return x.out_begin == y.out_begin && x.source_begin == y.source_begin &&
                                 x.length == y.length;
                      });
}

bool same_statements(const std::vector<StatementPlan>& a, const std::vector<StatementPlan>& b) {
    return std::equal(
        a.begin(), a.end(), b.begin(), b.end(), [](const StatementPlan& x, const StatementPlan& y) {
            return x.restore_tag == y.restore_tag && x.prepared_op == y.prepared_op &&
                   x.prepared_name == y.prepared_name && x.prepared_tag == y.prepared_tag;
        });
}

// Everything a client's message is handled by.
bool same_plan(const RewritePlan& a, const RewritePlan& b) {
    return a.action == b.action && a.sql == b.sql && same_statements(a.statements, b.statements) &&
           a.refusal_sqlstate == b.refusal_sqlstate && a.refusal_message == b.refusal_message &&
           a.changes_catalog == b.changes_catalog && a.new_children.empty() &&
           b.new_children.empty() && a.unknown_tables == b.unknown_tables && a.audits == b.audits &&
           a.returns_no_rows == b.returns_no_rows && a.original == b.original &&
           same_pieces(joined(a.source_map), joined(b.source_map));
}

// Another value of the slot's kind, so that a plan depending on the value shows.
std::string probe_value(std::string_view text, const ShapeSlot& slot) {
    std::string_view value = text.substr(slot.begin, slot.end - slot.begin);
    auto other = [&](std::string_view a, std::string_view b) {
        return std::string(value == a ? b : a);
    };
    switch (slot.kind) {
        case ShapeSlot::Kind::Number: {
            // Every digit another: the same form (integer, decimal, exponent), another value.
            std::string probe(value);
            for (char& c : probe) {
                if (c >= '0' && c <= '9') c = static_cast<char>('0' + (c - '0' + 1) % 10);
            }
            return probe;
        }
        case ShapeSlot::Kind::String:
            return other("'pgrev shape probe'", "'pgrev shape probe 2'");
        case ShapeSlot::Kind::EscapeString:
            return other("E'pgrev shape probe'", "E'pgrev shape probe 2'");
        case ShapeSlot::Kind::LineComment:
            return other("-- pgrev shape probe", "-- pgrev shape probe 2");
        case ShapeSlot::Kind::BlockComment:
            return other("/* pgrev shape probe */", "/* pgrev shape probe 2 */");
    }
    return std::string(value);
}

}  // namespace

std::shared_ptr<const PlanTemplate> PlanTemplate::make(std::string_view text,
                                                       const StatementShape& shape,
                                                       const RewritePlan& plan,
                                                       const Planner& planner) {
    if (!shape.usable || shape.slots.empty() || !can_be_template(plan)) return nullptr;
    auto t = std::make_shared<PlanTemplate>();
    if (!t->build(shape, plan)) return nullptr;

    std::vector<std::string> values;
    for (const auto& slot : shape.slots)
        values.push_back(probe_value(text, slot));
    std::string probe = fill_shape(text, shape, values);
    StatementShape probe_shape = statement_shape(probe);
    if (!probe_shape.usable || probe_shape.key != shape.key) return nullptr;
    if (!same_plan(planner(probe), t->fill(probe, probe_shape))) return nullptr;
    return t;
}

bool PlanTemplate::build(const StatementShape& shape, const RewritePlan& plan) {
    model_ = plan;
    model_.sql.clear();
    model_.original.clear();
    model_.source_map.clear();
    model_.shape_template.reset();
    if (plan.action == RewritePlan::Action::Forward) return true;

    const auto& slots = shape.slots;
    auto generated = [&](std::size_t begin, std::size_t end) {
        if (end <= begin) return;
        segments_.push_back({Segment::Kind::Generated, 0, generated_.size(), end - begin});
        generated_.append(plan.sql, begin, end - begin);
    };
    // Fixed text of the client's [begin, end), which holds no slot.
    auto copy = [&](std::size_t slot, std::size_t begin, std::size_t end) {
        if (end <= begin) return;
        std::size_t anchor = slot == 0 ? 0 : slots[slot - 1].end;
        segments_.push_back({Segment::Kind::Copy, slot, begin - anchor, end - begin});
    };
    std::size_t out = 0;
    for (const SourcePiece& piece : plan.source_map) {
        if (piece.out_begin < out) return false;
        generated(out, piece.out_begin);
        std::size_t begin = piece.source_begin;
        std::size_t end = begin + piece.length;
        // The first slot that ends after the piece begins.
        std::size_t k = std::partition_point(slots.begin(), slots.end(),
                                             [&](const ShapeSlot& s) { return s.end <= begin; }) -
                        slots.begin();
        std::size_t at = begin;
        for (; k < slots.size() && slots[k].begin < end; ++k) {
            // A piece that starts or ends inside a literal or comment: not a template.
            if (slots[k].begin < begin || slots[k].end > end) return false;
            copy(k, at, slots[k].begin);
            segments_.push_back({Segment::Kind::Slot, k, 0, 0});
            at = slots[k].end;
        }
        copy(k, at, end);
        out = piece.out_begin + piece.length;
    }
    generated(out, plan.sql.size());
    return true;
}

RewritePlan PlanTemplate::fill(std::string_view text, const StatementShape& shape) const {
    RewritePlan plan = model_;
    if (model_.action == RewritePlan::Action::Forward) return plan;
    plan.original = std::string(text);
    plan.sql.reserve(generated_.size() + 2 * text.size());
    for (const Segment& s : segments_) {
        std::size_t from = 0;
        std::size_t length = s.length;
        switch (s.kind) {
            case Segment::Kind::Generated:
                plan.sql.append(generated_, s.offset, s.length);
                continue;
            case Segment::Kind::Copy:
                from = (s.slot == 0 ? 0 : shape.slots[s.slot - 1].end) + s.offset;
                break;
            case Segment::Kind::Slot:
                from = shape.slots[s.slot].begin;
                length = shape.slots[s.slot].end - from;
                break;
        }
        add_piece(plan.source_map, {plan.sql.size(), from, length});
        plan.sql.append(text.substr(from, length));
    }
    return plan;
}

std::size_t PlanTemplate::bytes() const {
    return sizeof *this + generated_.capacity() + segments_.capacity() * sizeof(Segment) +
           model_.statements.capacity() * sizeof(StatementPlan);
}

}  // namespace pgrev::audit
