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

// Writes the number `value` (at `from` in the client's text) into `form` as a reference to
// parameter `number`, a new one when `number` is 0; false when the value must stay text.
bool add_parameter(ParameterizedPlan& form, std::size_t& number, std::string_view value,
                   ParameterUse use, ColumnType column, std::size_t from) {
    // A bulk INSERT gains nothing from being kept, and Bind counts in 16 bits.
    constexpr std::size_t kMaxParameters = 1000;
    if (number == 0 && form.types.size() == kMaxParameters) return false;
    if (number == 0 && use == ParameterUse::String) {
        // Of unspecified type: the server gives it the column's, as it does the literal.
        std::optional<std::string> text = string_assignment_value(value, column);
        if (!text) return false;
        form.types.push_back(0);
        form.values.push_back(std::move(*text));
        number = form.types.size();
    } else if (number == 0) {
        bool negated = use == ParameterUse::Negated;
        std::uint32_t type = number_parameter_type(value, negated);
        if (type == 0) return false;
        if (column.oid != 0 && !assignment_cannot_fail(value, negated, type, column)) {
            return false;
        }
        form.types.push_back(type);
        form.values.emplace_back(value);
        number = form.types.size();
    }
    std::string reference = "$" + std::to_string(number);
    // An error at the parameter points where the literal begins.
    add_piece(form.plan.source_map,
              {form.plan.sql.size(), from, std::min(reference.size(), value.size())});
    form.plan.sql += reference;
    return true;
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
           a.returns_no_rows == b.returns_no_rows &&
           a.result_columns_named == b.result_columns_named && a.original == b.original &&
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
                                                       const Planner& planner,
                                                       const CatalogSnapshot* catalog) {
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
    t->find_parameters(text, shape, plan, catalog);
    return t;
}

void PlanTemplate::find_parameters(std::string_view text, const StatementShape& shape,
                                   const RewritePlan& plan, const CatalogSnapshot* catalog) {
    if (plan.action != RewritePlan::Action::Rewrite || !plan.audits || !plan.result_columns_named ||
        plan.statements.size() != 1) {
        return;
    }
    // Where each copy of a number or string slot begins in the rewritten text.
    std::vector<std::size_t> slot_of_copy;
    std::vector<std::size_t> offsets;
    std::size_t out = 0;
    for (const Segment& s : segments_) {
        if (s.kind == Segment::Kind::Slot) {
            const ShapeSlot& slot = shape.slots[s.slot];
            if (slot.kind == ShapeSlot::Kind::Number || slot.kind == ShapeSlot::Kind::String) {
                slot_of_copy.push_back(s.slot);
                offsets.push_back(out);
            }
            out += slot.end - slot.begin;
        } else {
            out += s.length;
        }
    }
    if (out != plan.sql.size()) return;
    std::vector<ParameterSite> sites = parameter_uses(plan.sql, offsets, catalog);
    // A slot copied more than once is a parameter only if every copy may be the same one.
    std::vector<ParameterUse> slot_uses(shape.slots.size(), ParameterUse::Text);
    slot_columns_.assign(shape.slots.size(), ColumnType{});
    std::vector<bool> seen(shape.slots.size(), false);
    for (std::size_t i = 0; i < sites.size(); ++i) {
        std::size_t k = slot_of_copy[i];
        if (!seen[k]) {
            slot_uses[k] = sites[i].use;
            slot_columns_[k] = sites[i].column;
            seen[k] = true;
        } else if (slot_uses[k] != sites[i].use || slot_columns_[k] != sites[i].column) {
            slot_uses[k] = ParameterUse::Text;
        }
    }
    // A comment is whitespace to the server wherever it stands (a string continued across it
    // is one slot of its own, statement_shape.h): a space reads the same.
    bool drops = false;
    for (std::size_t k = 0; k < shape.slots.size(); ++k) {
        ShapeSlot::Kind kind = shape.slots[k].kind;
        if (kind == ShapeSlot::Kind::LineComment || kind == ShapeSlot::Kind::BlockComment) {
            slot_uses[k] = ParameterUse::Dropped;
            drops = true;
        }
    }
    slot_uses_ = std::move(slot_uses);
    // What the server will read must parse, with a parameter where pgrev put one (a place
    // that takes only a constant would fail here, not at a client's statement), and no
    // other: a text with parameters of its own keeps its numbers as text.
    std::shared_ptr<const ParameterizedPlan> form = fill(text, shape).parameterized;
    std::size_t references = 0;
    for (std::size_t i = 0; i < sites.size(); ++i) {
        ParameterUse use = slot_uses_[slot_of_copy[i]];
        references += use != ParameterUse::Text && use != ParameterUse::Dropped ? 1 : 0;
    }
    if (form && parses_with_parameters(form->plan.sql, references)) return;
    if (!drops) {
        slot_uses_.clear();
        return;
    }
    for (ParameterUse& use : slot_uses_) {
        if (use != ParameterUse::Dropped) use = ParameterUse::Text;
    }
    form = fill(text, shape).parameterized;
    own_parameters_ = !form || !parses_with_parameters(form->plan.sql, 0);
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
    plan.source_map.reserve(segments_.size());  // a piece per segment of the text at most
    // The parameterized form is made in the same walk, while no value forbids it.
    std::shared_ptr<ParameterizedPlan> form;
    // Per slot, its $n (0: none yet); the thread's, so that a fill allocates only what it returns.
    thread_local std::vector<std::size_t> number_of;
    if (!slot_uses_.empty()) {
        form = std::make_shared<ParameterizedPlan>();
        form->plan = model_;
        form->plan.original = plan.original;
        form->plan.sql.reserve(plan.sql.capacity());
        form->plan.source_map.reserve(segments_.size());
        auto parameters = static_cast<std::size_t>(
            std::count_if(slot_uses_.begin(), slot_uses_.end(), [](ParameterUse use) {
                return use != ParameterUse::Text && use != ParameterUse::Dropped;
            }));
        form->types.reserve(parameters);
        form->values.reserve(parameters);
        number_of.assign(shape.slots.size(), 0);
    }
    for (const Segment& s : segments_) {
        if (s.kind == Segment::Kind::Generated) {
            plan.sql.append(generated_, s.offset, s.length);
            if (form) form->plan.sql.append(generated_, s.offset, s.length);
            continue;
        }
        std::size_t from = s.kind == Segment::Kind::Copy
                               ? (s.slot == 0 ? 0 : shape.slots[s.slot - 1].end) + s.offset
                               : shape.slots[s.slot].begin;
        std::size_t length =
            s.kind == Segment::Kind::Copy ? s.length : shape.slots[s.slot].end - from;
        std::string_view piece = text.substr(from, length);
        add_piece(plan.source_map, {plan.sql.size(), from, length});
        plan.sql.append(piece);
        if (!form) continue;
        ParameterUse use = s.kind == Segment::Kind::Slot ? slot_uses_[s.slot] : ParameterUse::Text;
        // A planner hint (pg_hint_plan reads `/*+ ... */` from the statement's text) stays.
        if (use == ParameterUse::Dropped && piece.starts_with("/*+")) use = ParameterUse::Text;
        if (use == ParameterUse::Text) {
            add_piece(form->plan.source_map, {form->plan.sql.size(), from, length});
            form->plan.sql.append(piece);
        } else if (use == ParameterUse::Dropped) {
            form->plan.sql += ' ';
        } else if (!add_parameter(*form, number_of[s.slot], piece, use, slot_columns_[s.slot],
                                  from)) {
            form.reset();
        }
    }
    if (form) form->text_has_parameters = own_parameters_;
    plan.parameterized = std::move(form);
    return plan;
}

std::size_t PlanTemplate::bytes() const {
    return sizeof *this + generated_.capacity() + segments_.capacity() * sizeof(Segment) +
           model_.statements.capacity() * sizeof(StatementPlan) + slot_uses_.capacity() +
           slot_columns_.capacity() * sizeof(ColumnType);
}

}  // namespace pgrev::audit
