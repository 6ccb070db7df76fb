// The plan of one text as a template for every text of its shape (statement_shape.h): the
// rewritten text as pieces pgrev generated, pieces copied from the client's text and the
// client's slots (literals, comments), so the plan of another text of the shape is put
// together without parsing it. The error-position map is made for the new text as well.
//
// Only plans that cannot depend on a slot's contents become templates: every statement an
// INSERT, UPDATE, DELETE or SELECT (whose analysis reads names and structure, never a
// constant: RewritePlan::literal_blind), forwarded or rewritten, changing no books (no
// PREPARE, no DDL). And a template is kept only when it makes the same plan as the rewriter
// for a probe text, the first text with every slot holding another value: a rewrite that
// put a literal's value into the text it generates shows there and is never filled in.
//
// A template of one rewritten statement whose result columns are the ones it names (no
// RETURNING, or one without `*` and whole rows: RewritePlan::result_columns_named) also makes
// the statement's parameterized form (RewritePlan::parameterized): its number literals (and
// strings set into text columns) as parameters where the server reads a parameter as it would the
// literal (literal_parameters.h), so that a session can keep it prepared however the values change
// (server/own_statements.h). The form leaves the client's comments out, each replaced by a
// space: frameworks tag every request's SQL with a comment holding a trace id
// (sqlcommenter, Rails query logs), which would make every text new, and a statement
// prepared with the first request's comment would show that stale trace id in
// pg_stat_activity for every later one. A planner hint (`/*+ SeqScan(t) */`, pg_hint_plan)
// stays. A text with parameters of its own ($1, an unnamed Parse) keeps its numbers as text:
// its form only leaves out the comments.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "audit/literal_parameters.h"
#include "audit/rewrite_plan.h"
#include "audit/statement_shape.h"

namespace pgrev::audit {

class PlanTemplate {
  public:
    using Planner = std::function<RewritePlan(std::string_view text)>;

    // The template of `plan`, the plan `planner` made for `text` of shape `shape`; null when
    // the plan cannot be one. `planner` plans the probe text.
    // `catalog`, the snapshot the plan was made with, gives the types of the columns SET
    // values are assigned to (none: such values stay text).
    static std::shared_ptr<const PlanTemplate> make(std::string_view text,
                                                    const StatementShape& shape,
                                                    const RewritePlan& plan, const Planner& planner,
                                                    const CatalogSnapshot* catalog = nullptr);

    // The plan of `text`, whose shape is this template's (its slots in `shape`), with its
    // parameterized form when the template has one and no value of `text` must stay text.
    RewritePlan fill(std::string_view text, const StatementShape& shape) const;

    std::size_t bytes() const;  // what keeping it costs, about

  private:
    struct Segment {
        enum class Kind { Generated, Copy, Slot } kind;
        // Generated: `length` bytes of generated_ from `offset`. Copy: `length` bytes of the
        // client's text, `offset` bytes after the end of slot `slot` - 1 (after the text's
        // start when `slot` is 0). Slot: the contents of slot `slot`.
        std::size_t slot;
        std::size_t offset;
        std::size_t length;
    };

    bool build(const StatementShape& shape, const RewritePlan& plan);
    // Decides which slots become parameters (slot_uses_), from `text`, whose plan `plan` is.
    void find_parameters(std::string_view text, const StatementShape& shape,
                         const RewritePlan& plan, const CatalogSnapshot* catalog);

    RewritePlan model_;  // the plan without its texts
    std::string generated_;
    std::vector<Segment> segments_;
    // Per slot, with a parameterized form: whether it is sent as a parameter, as text, or
    // left out (a comment). Empty: no parameterized form.
    std::vector<ParameterUse> slot_uses_;
    // Per slot, with a parameterized form: the type of the column a SET value is assigned
    // to, which its value must fit (oid 0: none).
    std::vector<ColumnType> slot_columns_;
    // The text has parameters of its own: the form only leaves out the comments.
    bool own_parameters_ = false;
};

}  // namespace pgrev::audit
